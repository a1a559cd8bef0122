"""Config sweeps: expansion of the configs' sweeps, job names, values that survive ml_collections' flag
parsing, every bad entry refused before anything runs (one line, exit 2), the runner's dry run, --only,
finished runs skipped, Ctrl-C passed on to the running job, and (slow) two real runs one after another,
then a rerun that skips both."""

import json
import os
import pathlib
import shlex
import signal
import subprocess
import sys

import pytest

from genesys_jax import sweeps
from genesys_jax.evolve.layout import STORE
from genesys_jax.evolve.sqlite_store import SQLiteStore

ROOT = pathlib.Path(__file__).parents[1]
_ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}

FAKE_CONFIG = """
import ml_collections
from genesys_jax.agents.settings import agents_config
from genesys_jax.check.settings import check_config
from genesys_jax.evolve.settings import evolve_config
from genesys_jax.verify.settings import verify_config


def get_config(arg=None):
  config = ml_collections.ConfigDict()
  config.evolve, config.agents = evolve_config(), agents_config()
  config.check, config.verify = check_config(), verify_config()
  config.lock()
  return config
"""


def fake_config(tmp_path: pathlib.Path, sweep: list | None, name: str = "fake.py") -> str:
  """A config file with the default sections and, unless None, `get_sweep` returning `sweep` (any arg)."""
  text = FAKE_CONFIG + ("" if sweep is None else f"\n\ndef get_sweep(arg=None):\n  return {sweep!r}\n")
  path = tmp_path / name
  path.write_text(text)
  return str(path)


def expand(spec: str, base: dict | None = None) -> list[sweeps.SweepJob]:
  return sweeps.expand(spec, sweeps.parse_config(spec, []), base)


def runner(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "genesys_jax.sweep", *args], cwd=ROOT, env=_ENV,
                        capture_output=True, text=True, timeout=timeout)


def commands(stdout: str) -> list[list[str]]:
  return [shlex.split(line) for line in stdout.splitlines() if line and not line.startswith("#")]


def test_default_sweep_is_the_search_quality_study():
  jobs = expand(str(ROOT / "configs/default.py"))
  assert [(j.config.evolve.seed, j.config.evolve.selection.strategy) for j in jobs] == [
      (s, k) for s in (0, 1, 2) for k in ("evolution", "random")]
  assert jobs[3].name == "evolve.seed=1,evolve.selection.strategy=random"
  assert jobs[3].flags == ("--config.evolve.seed=1", "--config.evolve.selection.strategy=random")
  assert [j.config.evolve.budget.top for j in expand(str(ROOT / "configs/default.py:smoke"))] == [1] * 6


@pytest.mark.parametrize("name", ["paper", "gpu", "tpu"])
def test_paper_sweeps_cross_design_flow_with_selection(name):
  jobs = expand(str(ROOT / f"configs/{name}.py"))
  assert {(j.config.agents.designer, j.config.evolve.selection.strategy) for j in jobs} == {
      ("llm", "evolution"), ("llm", "random"), ("direct", "evolution"), ("direct", "random")}
  with pytest.raises(ValueError, match="without variants"):
    expand(str(ROOT / f"configs/{name}.py:offline"))


def test_values_of_every_kind_survive_flag_parsing(tmp_path):
  entry = {"evolve.seed": 7, "evolve.budget.ratio": 0.1 + 0.2, "evolve.rungs": ("micro1",),
           "verify.data.tfds_name": "my corpus/v1 'x'", "verify.diagnostics.enabled": False,
           "agents.llm.base_url": "123", "evolve.seeds": ["gpt2", "mamba2"], "verify.train.max_steps": 3}
  spec = fake_config(tmp_path, [entry])
  job, = expand(spec)
  for key, value in entry.items():
    got = job.config
    for part in key.split("."):
      got = got[part]
    want = tuple(value) if isinstance(value, list) else value
    assert got == want and type(got) is type(want), key
  # the flags alone rebuild the same config, as the main job will
  assert sweeps.parse_config(spec, job.flags).to_dict() == job.config.to_dict()
  assert "--config.verify.diagnostics.enabled=false" in job.flags
  assert "--config.evolve.rungs=('micro1',)" in job.flags


def test_job_names_are_readable_and_safe_as_directories(tmp_path):
  jobs = expand(fake_config(tmp_path, [{}, {"verify.data.tfds_name": "../a b/c:d", "evolve.seeds": ("gpt2",)},
                                       {"verify.data.tfds_name": "x" * 300}]))
  assert jobs[0].name == "base"
  assert jobs[1].name == "verify.data.tfds_name=.._a_b_c_d,evolve.seeds=gpt2"
  assert len(jobs[2].name) == sweeps.MAX_NAME and jobs[2].name.startswith("verify.data.tfds_name=xxx")
  for job in jobs:
    assert "/" not in job.name and pathlib.Path(job.name).name == job.name


def test_command_line_overrides_reach_every_job_and_entries_win(tmp_path):
  spec = fake_config(tmp_path, [{"evolve.seed": 1}, {"evolve.budget.top": 3}])
  jobs = expand(spec, {"evolve.budget.top": "2"})
  assert jobs[0].flags == ("--config.evolve.budget.top=2", "--config.evolve.seed=1")
  assert jobs[1].flags == ("--config.evolve.budget.top=3",) and jobs[1].config.evolve.budget.top == 3


@pytest.mark.parametrize("sweep, message", [
    ([{"evolve.sed": 1}], "sweep entry 0 .* sets unknown config field 'evolve.sed'"),
    ([{"evolve.seed": 0}, {"nope.x": 1}], "sweep entry 1 .* unknown config field 'nope.x'"),
    ([{"evolve.seed": "one"}], "does not parse as flags"),
    ([{"evolve.selection.strategy": "bogus"}], "makes an invalid config: unknown selection strategy 'bogus'"),
    ([{"verify.data.tfds_name": 3}], "reads back as '3'"),
    ([{"evolve.seed": None}], "values bools, numbers, strings"),
    ([{"evolve.seed": 1}, {"evolve.seed": 1}], "sweep entries 0 and 1 have the same job name"),
    ([], "non-empty list of dicts"),
    ({"evolve.seed": 1}, "non-empty list of dicts"),
])
def test_bad_entries_are_refused_with_one_sentence(tmp_path, sweep, message):
  with pytest.raises(ValueError, match=message):
    expand(fake_config(tmp_path, sweep))


@pytest.mark.parametrize("sweep, args, message", [
    (None, [], "defines no sweep"),
    ([{"evolve.sed": 1}], ["--workdir", "w"], "unknown config field 'evolve.sed'"),
    ([{"evolve.seed": 1}], ["--workdir", "w", "--only", "1"], "--only 1 is not an entry of this sweep of 1"),
    ([{"evolve.seed": 1}], [], "--workdir is required"),
])
def test_runner_bad_input_is_one_line_and_exit_2(tmp_path, sweep, args, message):
  result = runner("--config", fake_config(tmp_path, sweep), *args)
  assert result.returncode == 2, result.stderr
  assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and message in result.stderr
  assert not (ROOT / "w").exists()


def test_dry_run_prints_one_main_command_per_entry_and_runs_nothing(tmp_path):
  spec = fake_config(tmp_path, [{"evolve.seed": s, "evolve.selection.strategy": k}
                                for s in (0, 1) for k in ("evolution", "random")])
  workdir = tmp_path / "sweep"
  result = runner("--config", spec, "--workdir", str(workdir), "--dry_run", "--config.evolve.budget.top=2")
  assert result.returncode == 0, result.stderr
  cmds = commands(result.stdout)
  assert len(cmds) == 4 and not workdir.exists()
  for cmd, job in zip(cmds, expand(spec, {"evolve.budget.top": "2"})):
    assert cmd[:6] == [sys.executable, "-m", "genesys_jax.main", "--config", spec, "--workdir"]
    assert cmd[6] == str(workdir / job.name)
    assert cmd[7:] == list(job.flags) and job.flags[0] == "--config.evolve.budget.top=2"
  only = runner("--config", spec, "--workdir", str(workdir), "--dry_run", "--only", "2")
  assert [c[6] for c in commands(only.stdout)] == [str(workdir / "evolve.seed=1,evolve.selection.strategy=evolution")]


def test_print_json_is_what_xm_launch_reads(tmp_path):
  spec = fake_config(tmp_path, [{"evolve.rungs": ("micro1",)}])
  result = runner("--config", spec, "--print_json")
  assert result.returncode == 0, result.stderr
  assert json.loads(result.stdout) == {"config": spec, "jobs": [
      {"index": 0, "name": "evolve.rungs=micro1", "overrides": {"evolve.rungs": ["micro1"]},
       "flags": ["--config.evolve.rungs=('micro1',)"]}]}


def _record(workdir: pathlib.Path, config: dict, finished: bool) -> None:
  workdir.mkdir(parents=True)
  store = SQLiteStore(workdir / STORE)
  store.set_meta("config", config)
  store.set_meta("finished", finished)
  store.close()


def test_finished_runs_are_skipped_and_others_resumed(tmp_path):
  spec = fake_config(tmp_path, [{"evolve.seed": s} for s in range(4)])
  jobs = expand(spec)
  workdir = tmp_path / "sweep"
  config = [json.loads(json.dumps(j.config.to_dict())) for j in jobs]
  _record(workdir / jobs[0].name, config[0], finished=True)
  _record(workdir / jobs[1].name, config[1], finished=False)            # stopped: resumed
  _record(workdir / jobs[2].name, {**config[2], "evolve": {**config[2]["evolve"], "seed": 99}}, finished=True)
  result = runner("--config", spec, "--workdir", str(workdir), "--dry_run")
  assert result.returncode == 0, result.stderr
  assert f"# [0] {jobs[0].name}: finished, skipped" in result.stdout
  assert [c[6] for c in commands(result.stdout)] == [str(workdir / j.name) for j in jobs[1:]]


@pytest.mark.slow
def test_sweep_runs_entries_one_after_another_and_a_rerun_skips_them(tmp_path):
  """Two smoke runs (about 3 minutes on 2 cores), then the same command again returns at once."""
  spec = tmp_path / "smoke.py"
  spec.write_text(f"import runpy\nget_config = runpy.run_path({str(ROOT / 'configs/default.py')!r})['get_config']\n\n"
                  "def get_sweep(arg=None):\n  return [{'evolve.seed': 0}, {'evolve.seed': 1}]\n")
  workdir = tmp_path / "sweep"
  first = runner("--config", f"{spec}:smoke", "--workdir", str(workdir), timeout=1200)
  assert first.returncode == 0, first.stderr[-3000:]
  assert "sweep done: 2 run(s) finished" in first.stdout
  for seed in (0, 1):
    store = SQLiteStore(workdir / f"evolve.seed={seed}" / STORE, create=False)
    assert store.get_meta("finished") is True and store.get_meta("config")["evolve"]["seed"] == seed
  again = runner("--config", f"{spec}:smoke", "--workdir", str(workdir), timeout=120)
  assert again.returncode == 0 and again.stdout.count("finished, skipped") == 2, again.stdout


def test_sigint_reaches_the_running_job_and_stops_the_sweep():
  """`_run` passes SIGINT on to the job (which stops cleanly, exit 130) and records the stop."""
  job = ("import signal, sys, time; signal.signal(signal.SIGINT, lambda *_: sys.exit(130)); "
         "print('ready', flush=True); time.sleep(60)")
  wrapper = (f"from genesys_jax.sweep import _run; stop = []; "
             f"code = _run([{sys.executable!r}, '-c', {job!r}], stop); print(code, stop, flush=True)")
  process = subprocess.Popen([sys.executable, "-c", wrapper], cwd=ROOT, env=_ENV, stdout=subprocess.PIPE, text=True)
  assert process.stdout.readline().strip() == "ready"
  process.send_signal(signal.SIGINT)
  out, _ = process.communicate(timeout=60)
  assert process.returncode == 0 and out.strip() == f"130 [{int(signal.SIGINT)}]"
