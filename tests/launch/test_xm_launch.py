"""launch/xm_launch.py --dry_run, run as a script by an interpreter without xmanager: one controller per
sweep entry with the entry's --config.* flags, the extra verifiers, the executors and accelerators, bad
input as one line and exit 2, and a script that never imports genesys_jax (nor xmanager but lazily)."""

import ast
import json
import os
import pathlib
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parents[2]
SCRIPT = ROOT / "launch" / "xm_launch.py"
_ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}
DEFAULT_NAMES = [f"evolve.seed={s},evolve.selection.strategy={k}" for s in (0, 1, 2) for k in ("evolution", "random")]


def launch(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, str(SCRIPT), "--dry_run", "--genesys_python", sys.executable, *args],
                        cwd=ROOT, env=_ENV, capture_output=True, text=True, timeout=120)


def specs(*args: str) -> list[dict]:
  result = launch(*args)
  assert result.returncode == 0, result.stderr
  return json.loads(result.stdout)["jobs"]


def test_the_script_imports_neither_genesys_jax_nor_xmanager_at_module_level():
  tree = ast.parse(SCRIPT.read_text())
  top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
  top |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
  assert top <= set(sys.stdlib_module_names) | {"__future__"}, top
  every = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
  every |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
  assert not any(name.startswith("genesys_jax") for name in every) and "xmanager" in every


def test_local_sweep_has_a_controller_and_the_verifiers_per_entry(tmp_path):
  jobs = specs("--config", "configs/default.py", "--workdir", str(tmp_path / "sweep"), "--sweep", "--verifiers", "2",
               "--config.evolve.budget.top=2", "--env", "FOO=bar", "--env", "GEMINI_API_KEY")
  assert [j["work_unit"] for j in jobs] == [name for name in DEFAULT_NAMES for _ in range(3)]
  assert [j["name"] for j in jobs] == ["controller", "verifier_1", "verifier_2"] * 6
  for i, name in enumerate(DEFAULT_NAMES):
    controller, *verifiers = jobs[3 * i:3 * i + 3]
    workdir = str(tmp_path / "sweep" / name)
    seed, strategy = (part.split("=")[1] for part in name.split(","))
    assert controller["command"] == [sys.executable, "-m", "genesys_jax.main", "--config",
                                     str(ROOT / "configs/default.py"), "--workdir", workdir,
                                     "--config.evolve.budget.top=2", f"--config.evolve.seed={seed}",
                                     f"--config.evolve.selection.strategy={strategy}"]
    for verifier in verifiers:
      shell, flag, script = verifier["command"]
      assert (shell, flag) == ("/bin/sh", "-c")
      assert (f"until [ -f {shlex.quote(workdir + '/store.sqlite')} ] || [ -f {shlex.quote(workdir + '/store.url')} ]"
              in script)  # the run's SQLite store, or the URL of its PostgreSQL store
      assert script.endswith(shlex.join([sys.executable, "-m", "genesys_jax.evolve.worker", "--workdir", workdir]))
    for job in (controller, *verifiers):
      assert (job["executor"], job["accelerator"], job["accelerator_count"]) == ("local", None, 0)
      assert job["env"] == {"FOO": "bar"} and job["forward_env"] == ["GEMINI_API_KEY"]


def test_verifier_wait_script_is_valid_shell_and_gives_up(tmp_path):
  job = specs("--config", "configs/default.py", "--workdir", str(tmp_path / "run"), "--verifiers", "1")[1]
  script = job["command"][2].replace("sleep 5", "sleep 0").replace("-gt 900", "-gt 10")
  result = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, timeout=30)
  assert result.returncode == 1 and "error: no run appeared in" in result.stderr


def test_without_sweep_one_run_in_the_workdir_itself(tmp_path):
  jobs = specs("--config", "configs/default.py:smoke", "--workdir", str(tmp_path / "run"), "--config.evolve.seed=4")
  assert len(jobs) == 1 and jobs[0]["work_unit"] == "run"
  assert jobs[0]["command"][3:] == ["--config", str(ROOT / "configs/default.py") + ":smoke", "--workdir",
                                    str(tmp_path / "run"), "--config.evolve.seed=4"]


def test_vertex_sweep_runs_the_controllers_on_gpus_and_copies_each_run_back():
  jobs = specs("--config", "configs/gpu.py", "--workdir", "/gcs/bucket/runs", "--sweep", "--platform", "vertex",
               "--accelerator", "a100", "--accelerator_count", "8")
  assert [j["work_unit"] for j in jobs] == [f"agents.designer={d},evolve.selection.strategy={k}"
                                            for d in ("llm", "direct") for k in ("evolution", "random")]
  for job in jobs:
    assert (job["name"], job["executor"], job["accelerator"], job["accelerator_count"]) == (
        "controller", "vertex", "A100", 8)
    shell, flag, script = job["command"]
    out, scratch = shlex.quote(f"/gcs/bucket/runs/{job['work_unit']}"), shlex.quote(f"/tmp/genesys_run/{job['work_unit']}")
    designer, strategy = (part.split("=")[1] for part in job["work_unit"].split(","))
    main = shlex.join(["python", "-m", "genesys_jax.main", "--config", "configs/gpu.py", "--workdir",
                       f"/tmp/genesys_run/{job['work_unit']}", f"--config.agents.designer={designer}",
                       f"--config.evolve.selection.strategy={strategy}"])
    assert f"cp -r {out}/. {scratch}/" in script and main in script and script.endswith(
        f"cp -r {scratch}/. {out}/; exit $code")
    assert subprocess.run(["/bin/sh", "-n", "-c", script]).returncode == 0


def test_vertex_without_accelerator_is_a_cpu_job():
  job, = specs("--config", "configs/default.py", "--workdir", "/gcs/b/run", "--platform", "vertex")
  assert (job["executor"], job["accelerator"], job["accelerator_count"]) == ("vertex", None, 0)


def test_sweep_json_is_read_instead_of_expanding(tmp_path):
  sweep = tmp_path / "sweep.json"
  sweep.write_text(json.dumps({"config": "configs/default.py", "jobs": [
      {"index": 0, "name": "evolve.seed=5", "overrides": {"evolve.seed": 5}, "flags": ["--config.evolve.seed=5"]}]}))
  result = subprocess.run([sys.executable, str(SCRIPT), "--dry_run", "--genesys_python", "/nonexistent/python",
                           "--config", "configs/default.py", "--workdir", str(tmp_path / "w"), "--sweep_json", str(sweep)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
  assert result.returncode == 0, result.stderr
  job, = json.loads(result.stdout)["jobs"]
  assert job["command"][-3:] == ["--workdir", str(tmp_path / "w" / "evolve.seed=5"), "--config.evolve.seed=5"]


@pytest.mark.parametrize("args, message", [
    (["--config", "configs/default.py", "--workdir", "w", "--platform", "vertex"], "on Vertex AI --workdir is a path"),
    (["--config", "configs/default.py", "--workdir", "/gcs/b/w", "--platform", "vertex", "--verifiers", "1"],
     "extra verifier jobs would run on other machines"),
    (["--config", "configs/default.py", "--workdir", "w", "--accelerator", "A100"], "--accelerator is for --platform vertex"),
    (["--config", "configs/gpu.py", "--workdir", "/gcs/b/w", "--platform", "vertex", "--accelerator", "TPU_V3"],
     "for TPUs use launch/tpu_vm.sh"),
    (["--config", "configs/gpu.py", "--workdir", "/gcs/b/w", "--platform", "vertex", "--accelerator", "H100"],
     "is not a Vertex AI GPU of xm_local"),
    (["--config", "configs/nope.py", "--workdir", "w"], "config file configs/nope.py does not exist"),
    (["--config", "configs/default.py", "--workdir", "w", "--bogus"], "unrecognized argument --bogus"),
    (["--config", "configs/default.py", "--workdir", "w", "--platform", "borg"], "invalid choice: 'borg'"),
    (["--workdir", "w"], "the following arguments are required: --config"),
    (["--config", "configs/paper.py:offline", "--workdir", "w", "--sweep"],
     "configs/paper.py failed: ValueError: the paper sweep sets the designer and the selection itself"),
    (["--config", "configs/default.py", "--workdir", "w", "--sweep", "--config.evolve.sed=1"],
     "expanding the sweep failed: unknown config field"),
    (["--config", "configs/default.py", "--workdir", "w", "--sweep", "--sweep_json", "x.json"], "not both"),
    (["--config", "configs/default.py", "--workdir", "w", "--env", "A-B=1"], "--env A-B=1 is not NAME"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
  result = launch(*args)
  assert result.returncode == 2, result.stdout
  assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_missing_genesys_python_is_named():
  result = subprocess.run([sys.executable, str(SCRIPT), "--dry_run", "--genesys_python", "/nonexistent/python",
                           "--config", "configs/default.py", "--workdir", "w", "--sweep"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
  assert result.returncode == 2 and "set --genesys_python" in result.stderr
