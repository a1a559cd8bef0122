"""The checker end to end: seeds accepted; hostile and wrong designs rejected with a reason; no trace left."""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

import psutil
import pytest

from genesys_jax.check.checker import check
from genesys_jax.check.dynamic import CheckSettings, fingerprint
from genesys_jax.check.sandbox import Limits
from genesys_jax.gau.scales import get_scale
from genesys_jax.units.seeds import SEED_NAMES, seed_design

HOSTILE = pathlib.Path(__file__).parent / "hostile"
MARKER = "/tmp/genesys_marker_should_not_exist"
ROOT = pathlib.Path(__file__).resolve().parents[2]


def _failed(report):
  return {c.name: c.message for c in report.checks if not c.ok and c.fatal}


def _check_workers_under(folder: pathlib.Path) -> list[int]:
  """Checker worker processes running in a work directory under `folder` (other tests' checks run elsewhere)."""
  found = []
  for proc in psutil.process_iter(["cmdline", "cwd"]):
    cmdline, cwd = proc.info["cmdline"] or [], proc.info["cwd"] or ""
    if "genesys_jax.check.worker" in cmdline and cwd.startswith(str(folder)):
      found.append(proc.pid)
  return found


def _check_leaving_no_trace(path: pathlib.Path, folder: pathlib.Path, monkeypatch, **kwargs):
  """`check(path, **kwargs)` with its temporary directories made under `folder`: none is left behind, no
  checker worker still runs there and the hostile files' marker was never written."""
  monkeypatch.setattr(tempfile, "tempdir", str(folder))
  report = check(path, **kwargs)
  leftover = [p.name for p in folder.iterdir() if p.name.startswith("genesys_check_")]
  assert not leftover and not os.path.exists(MARKER) and _check_workers_under(folder) == []
  return report


@pytest.mark.parametrize("seed", SEED_NAMES)
def test_seeds_are_accepted(seed, tmp_path):
  report = check(seed_design(seed).save(tmp_path / seed))
  assert report.ok, report.feedback()
  names = [c.name for c in report.checks]
  assert names == ["static_vetting", "load", "unit_tests", "forward", "causality", "differentiability",
                   "parameter_band", "compile", "training", "time", "memory", "flops", "fingerprint"]
  assert 0.8 <= report.figures["ratio"] <= 1.2
  assert report.figures["time_ratio"] > 0
  # the sandbox's fingerprint is the one the controller records for the seed itself
  assert report.figures["fingerprint"] == fingerprint(seed_design(seed).materialize(),
                                                      get_scale(CheckSettings().scale).seq_len)


@pytest.mark.parametrize("fname, stage, reason", [
    ("writes_marker.py", "static_vetting", "line 6: 'open' is not available in unit code"),
    ("escapes_via_subclasses.py", "static_vetting", "dunder attributes are used for escapes"),
    ("syntax_error.py", "static_vetting", "line 5: syntax error"),
    ("wrong_shape.py", "forward", "output Y has shape (1, 12, 16) but input X has (1, 12, 32)"),
    ("makes_nan.py", "forward", "NaN or Inf"),
    ("flipped_attention.py", "causality", "change when only later tokens change"),
    ("tiny_leak.py", "causality", "the Jacobian shows output t depending on input s > t"),
    ("blocked_gradient.py", "differentiability", "change the output but get no gradient"),
])
def test_wrong_and_hostile_designs_are_rejected(fname, stage, reason, monkeypatch, tmp_path):
  report = _check_leaving_no_trace(HOSTILE / fname, tmp_path, monkeypatch)
  assert not report.ok
  failed = _failed(report)
  assert list(failed) == [stage], report.feedback()
  assert reason in failed[stage]


def test_infinite_loop_hits_the_timeout(monkeypatch, tmp_path):
  report = _check_leaving_no_trace(HOSTILE / "infinite_loop.py", tmp_path, monkeypatch, limits=Limits(timeout_s=15))
  assert _failed(report) == {
      "forward": "exceeded the wall-clock timeout of 15 s during the forward stage; make the unit cheaper or fix it"}


def test_huge_allocation_hits_the_memory_limit(monkeypatch, tmp_path):
  report = _check_leaving_no_trace(HOSTILE / "huge_allocation.py", tmp_path, monkeypatch,
                                   limits=Limits(memory_bytes=4 * 2**30))
  failed = _failed(report)
  assert list(failed) == ["forward"] and "out of memory" in failed["forward"], failed


def test_unused_parameter_is_reported_but_accepted(monkeypatch, tmp_path):
  report = _check_leaving_no_trace(HOSTILE / "unused_parameter.py", tmp_path, monkeypatch)
  assert report.ok, report.feedback()
  (grad_check,) = [c for c in report.checks if c.name == "differentiability"]
  assert "blocks.0.spare" in grad_check.message


def _cli(*args):
  return subprocess.run([sys.executable, "-m", "genesys_jax.check", *args], cwd=ROOT, capture_output=True,
                        text=True, timeout=600)


def test_cli_json_and_exit_codes(tmp_path):
  accepted = _cli(str(seed_design("gpt2").save(tmp_path / "gpt2")), "--json")
  assert accepted.returncode == 0, accepted.stderr[-2000:]
  report = json.loads(accepted.stdout)
  assert report["ok"] is True and all({"name", "ok", "message"} <= set(c) for c in report["checks"])
  rejected = _cli(str(HOSTILE / "writes_marker.py"), "--json")
  assert rejected.returncode == 1 and json.loads(rejected.stdout)["ok"] is False


@pytest.mark.parametrize("args, message", [
    (["missing_dir"], "no such design path: missing_dir"),
    ([], "give exactly one PATH"),
    (["README.md"], "neither a design directory nor a .py block file"),
    (["configs", "--scale", "1B"], "unknown --scale '1B'"),
    (["configs", "--timeout", "-1"], "--timeout must be positive"),
    (["configs", "--bogus"], "Unknown command line flag 'bogus'"),
])
def test_cli_usage_errors(args, message):
  result = _cli(*args)
  assert result.returncode == 2
  errors = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1 and message in errors[0], result.stderr
  assert "Traceback" not in result.stderr


def test_agent_code_without_bubblewrap_needs_allow_unisolated(monkeypatch):
  from genesys_jax.check import checker  # pylint: disable=import-outside-toplevel
  monkeypatch.delenv("GENESYS_JAX_ALLOW_UNISOLATED", raising=False)
  monkeypatch.setattr(checker, "isolation", lambda: "none")
  report = check(HOSTILE / "flipped_attention.py")
  assert [c.name for c in report.checks] == ["static_vetting", "isolation"]
  assert "allow_unisolated" in report.checks[-1].message and not report.ok


def test_library_code_runs_without_bubblewrap(monkeypatch, tmp_path):
  from genesys_jax.check import checker  # pylint: disable=import-outside-toplevel
  monkeypatch.setattr(checker, "isolation", lambda: "none")
  report = check(seed_design("gpt2").save(tmp_path / "gpt2"), settings=CheckSettings(train_steps=4))
  assert report.ok, report.feedback()
  assert not any("bubblewrap" in layer for layer in report.isolation)


def test_a_run_with_an_llm_designer_refuses_to_start_without_isolation(monkeypatch):
  from configs import default  # pylint: disable=import-outside-toplevel
  from genesys_jax.evolve import settings  # pylint: disable=import-outside-toplevel
  monkeypatch.setattr(settings, "isolation", lambda: "none")
  monkeypatch.delenv("GENESYS_JAX_ALLOW_UNISOLATED", raising=False)
  config = default.get_config()
  config.agents.designer = "llm"
  with pytest.raises(ValueError, match="allow_unisolated=True"):
    settings.validate_run(config)
  config.check.allow_unisolated = True
  settings.validate_run(config)


@pytest.mark.parametrize("family, rejected", [("", True), ("mamba2", False)])
def test_memory_over_the_gpt_limit_is_judged_against_the_family_seed_too(family, rejected, monkeypatch, tmp_path):
  from genesys_jax.check import dynamic  # pylint: disable=import-outside-toplevel
  monkeypatch.setitem(dynamic.RATIO_LIMITS, "memory", (1.2, 1.5))  # the Mamba2 seed uses ~2x GPT's memory
  checks = []
  dynamic.check_in_process(str(seed_design("mamba2").save(tmp_path / "m")),
                           CheckSettings(train_steps=4, family=family), checks.append)
  (memory,) = [c for c in checks if c.name == "memory"]
  assert not memory.ok and memory.fatal == rejected, memory.message
  if family:
    assert memory.figures["family_memory_ratio"] == 1.0 and "its mamba2 seed's" in memory.message


def test_family_seed_follows_first_parents():
  from genesys_jax.evolve.designing import family_seed  # pylint: disable=import-outside-toplevel
  from genesys_jax.evolve.store_rows import DesignRow  # pylint: disable=import-outside-toplevel
  fields = {f: None for f in DesignRow.__dataclass_fields__}
  row = lambda i, name, seed, parents: DesignRow(**{**fields, "id": i, "name": name, "seed": seed,
                                                    "parents": parents})
  rows = {1: row(1, "mamba2", True, ()), 2: row(2, "gpt2", True, ()), 3: row(3, "d1", False, (1, 2)),
          4: row(4, "d2", False, (3,))}
  assert family_seed(rows, [4]) == "mamba2" and family_seed(rows, [2, 3]) == "gpt2" and family_seed(rows, []) == ""
