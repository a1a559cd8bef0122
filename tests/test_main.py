"""The main job end to end: verifies seeds, resumes, and answers bad input with one line and exit 2."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _main(*args):
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  return subprocess.run([sys.executable, "-m", "genesys_jax.main", *args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=900)


def test_smoke_run_verifies_and_resumes(tmp_path):
  args = ["--config", "configs/default.py:smoke", "--workdir", str(tmp_path),
          "--config.seeds=('gpt2', 'rwkv6')"]
  first = _main(*args)
  assert first.returncode == 0, first.stderr[-2000:]
  assert "2/2 seeds verified" in first.stdout
  record = json.loads((tmp_path / "seeds" / "gpt2.json").read_text())
  assert record["ok"] and record["checks"] == {"unit_tests": True, "causal": True, "gradients": True,
                                               "loss_falls": True}
  assert record["sizes"]["micro1"]["params"] == 33696
  assert (tmp_path / "designs" / f"gpt2-{record['content_hash']}" / "design.json").is_file()
  again = _main(*args)
  assert again.returncode == 0
  assert "gpt2: already verified (ok), kept" in again.stdout
  assert json.loads((tmp_path / "seeds" / "gpt2.json").read_text()) == record
  changed = _main(*args[:-1], "--config.seeds=('gpt2',)", "--config.probe.train_steps=5")
  assert changed.returncode == 0 and "already verified" not in changed.stdout
  assert json.loads((tmp_path / "seeds" / "gpt2.json").read_text())["settings"]["probe"]["train_steps"] == 5


@pytest.mark.parametrize("args, message", [
    (["--workdir", "W"], "--config is required"),
    (["--config", "configs/missing.py", "--workdir", "W"], "config file configs/missing.py does not exist"),
    (["--config", "configs/default.py:bogus", "--workdir", "W"], "unknown config variant 'bogus'"),
    (["--config", "configs/default.py"], "--workdir is required"),
    (["--config", "configs/default.py", "--workdir", "W", "--bogus"], "Unknown command line flag 'bogus'"),
    (["--config", "configs/default.py", "--workdir", "W", "--config.nofield=1"], "unknown config field 'nofield'"),
    (["--config", "configs/default.py", "--workdir", "W", "--config.probe.batch=abc"], "invalid literal"),
    (["--config", "configs/default.py", "--workdir", "W", "--config.ladder=huge"], "unknown ladder 'huge'"),
    (["--config", "configs/default.py", "--workdir", "W", "--config.seeds=('gpt3',)"], "unknown seeds ['gpt3']"),
    (["--config", "configs/default.py", "--workdir", "README.md"], "exists and is not a directory"),
    (["--config", "configs/default.py", "--workdir", "W", "extra"], "unexpected arguments ['extra']"),
])
def test_bad_input_gets_one_line_and_exit_2(args, message, tmp_path):
  args = [str(tmp_path / "w") if a == "W" else a for a in args]
  result = _main(*args)
  assert result.returncode == 2, (result.stdout, result.stderr)
  errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1 and message in errors[0], result.stderr
  assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_default_config_verifies_all_seeds(tmp_path):
  result = _main("--config", "configs/default.py", "--workdir", str(tmp_path))
  assert result.returncode == 0, result.stderr[-2000:]
  assert "5/5 seeds verified" in result.stdout
  for seed in ("gpt2", "mamba2", "retnet", "rwkv6", "ttt"):
    sizes = json.loads((tmp_path / "seeds" / f"{seed}.json").read_text())["sizes"]
    assert set(sizes) >= {"14M", "31M", "70M", "125M", "350M"}
    assert all(0.8 <= s["ratio"] <= 1.2 for s in sizes.values())
