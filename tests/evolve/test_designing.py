"""A design job end to end in the store: the LLM flow (scripted answers) and the offline designer."""

import os
import pathlib
import subprocess
import sys
import time

import pytest

from agents.test_flow import _code, _observe, _plan, _proposal, _review, fake_checker
from genesys_jax.agents.llm.client import LLMClient
from genesys_jax.agents.llm.costs import Ledger, Price
from genesys_jax.agents.llm.factory import ROLES
from genesys_jax.agents.llm.replay import ScriptedBackend
from genesys_jax.check.report import Check, CheckReport
from genesys_jax.evolve import designing, layout
from genesys_jax.evolve.store_rows import NewDesign, SessionRecord
from genesys_jax.evolve.sqlite_store import SQLiteStore
from genesys_jax.files import read_json
from genesys_jax.gau.design import MANIFEST
from genesys_jax.units.seeds import seed_design
from evolve.test_controller import _config


def _fingerprinting_checker(design, *args):
  """The flow test's fake checker, plus the functional fingerprint the store keys duplicates on."""
  report = fake_checker(design)
  return CheckReport(report.design, report.checks, {"fingerprint": design.content_hash()}, (), {"sandbox_total": 0.5})


class _Priced(ScriptedBackend):
  def complete(self, request, model):
    reply = super().complete(request, model)
    return type(reply)(reply.text, model, 1000, 500)


def seeded_store(workdir) -> tuple[SQLiteStore, int]:
  """A run's store holding the GPT seed (its directory written under `workdir`) and one mutation job."""
  store = SQLiteStore(workdir / "store.sqlite")
  gpt2 = seed_design("gpt2")
  path = layout.design_directory(gpt2)
  gpt2.save(workdir / path)
  seed = store.add_seed(NewDesign("gpt2", gpt2.content_hash(), read_json(workdir / path / MANIFEST), path, seed=True))
  store.enqueue("design", "design:0", {"operator": "mutation", "parents": [seed], "name": "d001-mut", "seed": 5})
  return store, seed


@pytest.fixture
def run(tmp_path, monkeypatch):
  monkeypatch.setattr(designing, "check_design", _fingerprinting_checker)
  store, seed = seeded_store(tmp_path)
  return store, seed, store.claim("design", "me", 60)


def _client(answers):
  return LLMClient(_Priced(answers), {r: "m" for r in ROLES}, {"m": Price(1.0, 2.0)}, Ledger(), retries=0,
                   sleep=lambda s: None)


def test_an_llm_session_is_recorded_with_its_calls_costs_and_check(run, tmp_path):
  store, seed, job = run
  config = _config()
  config.agents.designer = "llm"
  client = _client({"proposer": [_proposal()], "reviewer": [_review(4)], "planner": [_plan()], "coder": [_code()],
                    "observer": [_observe(4)]})
  design_id = designing.run_design_job(job, "me", store, tmp_path, config, client)
  row = next(r for r in store.designs() if r.id == design_id)
  assert row.status == "implemented" and row.parents == (seed,) and row.changed_units == ("CausalMeanMixer",)
  assert (tmp_path / row.path / MANIFEST).is_file()
  [session] = store.sessions()
  assert session["designer"] == "llm" and session["check_ok"] and session["cost_usd"] == pytest.approx(5 * 0.002)
  assert store.spend_usd() == pytest.approx(0.01)
  roles = [r[0] for r in store._db().execute("SELECT role FROM calls ORDER BY id")]
  assert roles == ["proposer", "reviewer", "planner", "coder", "observer"]
  assert [j.key for j in store.jobs("verify", ("pending",))] == [f"verify:{design_id}:micro1"]
  assert any(e["kind"] == "review" for e in store.session_events(session["id"]))


def test_a_failed_llm_session_is_recorded_and_queues_nothing(run, tmp_path):
  store, _, job = run
  config = _config()
  config.agents.designer = "llm"
  config.agents.flow.max_review_rounds = 2
  client = _client({"proposer": [_proposal()] * 2, "reviewer": [_review(2)] * 2})
  assert designing.run_design_job(job, "me", store, tmp_path, config, client) is None
  [session] = store.sessions()
  assert not session["ok"] and session["check"] is None and session["cost_usd"] > 0
  assert store.job_counts() == {("design", "done"): 1}


def test_an_offline_session_designs_checks_and_queues_the_first_rung(run, tmp_path):
  store, seed, job = run
  design_id = designing.run_design_job(job, "me", store, tmp_path, _config(), None)
  row = next(r for r in store.designs() if r.id == design_id)
  assert row.operator == "mutation" and row.parents == (seed,) and row.rationale
  assert store.sessions()[0]["designer"] == "offline" and store.spend_usd() == 0.0
  assert store.jobs("verify", ("pending",))[0].payload == {"design_id": design_id, "rung": "micro1"}


def test_a_crashing_session_is_a_failed_session_with_its_calls_and_spend(run, tmp_path, monkeypatch):
  store, _, job = run

  def crash(design, *args):
    raise RuntimeError("the sandbox broke")

  monkeypatch.setattr(designing, "check_design", crash)
  config = _config()
  config.agents.designer = "llm"
  client = _client({"proposer": [_proposal()], "reviewer": [_review(4)], "planner": [_plan()], "coder": [_code()]})
  assert designing.run_design_job(job, "me", store, tmp_path, config, client) is None
  [session] = store.sessions()
  assert not session["ok"] and session["reason"] == "the session crashed: RuntimeError: the sandbox broke"
  assert session["cost_usd"] == pytest.approx(4 * 0.002) == pytest.approx(store.spend_usd())
  assert store.job_counts() == {("design", "done"): 1}


_KILLED_SESSION = """
import sys, time
from genesys_jax.agents.llm.replay import ScriptedBackend
from genesys_jax.evolve import designing
from genesys_jax.evolve.sqlite_store import SQLiteStore
from agents.test_flow import _proposal, _review
from evolve.test_designing import _Priced, _client
from evolve.test_controller import _config

class Hangs(_Priced):
  def complete(self, request, model):
    if request.role == "planner":
      time.sleep(3600)  # killed here, after the proposer's and the reviewer's calls
    return super().complete(request, model)

workdir = __import__("pathlib").Path(sys.argv[1])
store = SQLiteStore(workdir / "store.sqlite")
config = _config()
config.agents.designer = "llm"
client = _client({})
client.backend = Hangs({"proposer": [_proposal()], "reviewer": [_review(4)]})
designing.run_design_job(store.claim("design", "child", 60), "child", store, workdir, config, client)
"""


def test_a_killed_sessions_spend_counts_against_the_budget_after_a_resume(tmp_path):
  store, _ = seeded_store(tmp_path)
  tests = pathlib.Path(__file__).parents[1]
  env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests), os.environ.get("PYTHONPATH", "")])}
  child = subprocess.Popen([sys.executable, "-c", _KILLED_SESSION, str(tmp_path)], env=env)
  try:
    while len(store.calls()) < 2:
      assert child.poll() is None, "the session ended before it was killed"
      time.sleep(0.1)
  finally:
    child.kill()
    child.wait()
  spent = store.spend_usd()
  assert spent == pytest.approx(2 * 0.002) and store.sessions() == []
  # The resumed run: the dead worker's job goes back to the queue; the ledger starts from the store.
  assert store.reclaim(lambda owner: owner == "child", max_attempts=3) == 1
  config = _config()
  config.agents.designer = "llm"
  config.agents.budget_usd = spent  # all of it spent already
  ledger = Ledger.of_calls(store.calls())
  assert ledger.total().cost_usd == pytest.approx(spent)
  client = LLMClient(_Priced({"proposer": [_proposal()]}), {r: "m" for r in ROLES}, {"m": Price(1.0, 2.0)}, ledger,
                     retries=0, sleep=lambda s: None, cap_usd=spent)
  job = store.claim("design", "resumed", 60)
  assert designing.run_design_job(job, "resumed", store, tmp_path, config, client) is None
  [session] = store.sessions()
  assert "cannot cover another session" in session["reason"] and session["cost_usd"] == pytest.approx(spent)
  assert len(store.calls()) == 2 and store.spend_usd() == pytest.approx(spent)  # no new call was made


def test_a_parents_efficiency_comes_from_its_recorded_check(tmp_path):
  store, seed = seeded_store(tmp_path)
  [gpt2] = store.designs()
  assert designing.parent_efficiency(gpt2, {}) == {"time": 1.0, "memory": 1.0, "flops": 1.0}
  job = store.claim("design", "me", 60)
  report = {"ok": True, "checks": [{"name": "time", "ok": False, "figures": {"time_ratio": 2.1}},
                                   {"name": "flops", "ok": True, "figures": {"flops_ratio": 1.2}}],
            "figures": {}, "seconds": {}}
  child = store.finish_design_job(job, "me", SessionRecord("offline", "mutation", True, "ok", 1.0, check=report),
                                  NewDesign("c", "hash-c", {"root": "R"}, "designs/c", operator="mutation",
                                            parents=(seed,)), "implemented", None)
  row = next(r for r in store.designs() if r.id == child)
  checks = {s["design_id"]: s["check"] for s in store.sessions() if s["check"]}
  assert designing.parent_efficiency(row, checks) == {"time": 2.1, "flops": 1.2}
  assert designing.parent_efficiency(row, {}) is None
