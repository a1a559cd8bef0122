"""`python -m genesys_jax.agents`: one design session from the command line."""

import json
import os
import subprocess
import sys

from genesys_jax.agents.flow import DesignSession, FlowSettings, Parent
from genesys_jax.agents.knowledge.search import KnowledgeEngine
from genesys_jax.agents.llm.client import LLMClient
from genesys_jax.agents.llm.costs import Ledger
from genesys_jax.agents.llm.factory import ROLES
from genesys_jax.agents.llm.replay import RecordingBackend, ScriptedBackend
from genesys_jax.gau.design import load_design
from genesys_jax.units.seeds import seed_design

from tests.agents.test_flow import _code, _observe, _plan, _proposal, _review, fake_checker

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _agents(*args):
  env = {k: v for k, v in os.environ.items() if k != "GEMINI_API_KEY"}
  return subprocess.run([sys.executable, "-m", "genesys_jax.agents", "--config", "configs/default.py", *args],
                        cwd=ROOT, env={**env, "JAX_PLATFORMS": "cpu"}, capture_output=True, text=True, timeout=600)


def test_offline_mutation_writes_the_design_and_its_session(tmp_path):
  parent = seed_design("rwkv6").save(tmp_path / "rwkv6")
  done = _agents("--parents", str(parent), "--out", str(tmp_path / "out"), "--name", "child", "--seed", "3")
  assert done.returncode == 0, done.stderr[-1500:]
  design = load_design(tmp_path / "out" / "child" / "design")
  assert design.lineage.operator == "mutation" and design.content_hash() != seed_design("rwkv6").content_hash()
  record = json.loads((tmp_path / "out" / "child" / "session.json").read_text())
  assert record["ok"] and record["rationale"].startswith("Mutation of rwkv6")


def test_bad_input_is_one_sentence_and_exit_2(tmp_path):
  parent = str(seed_design("gpt2").save(tmp_path / "gpt2"))
  cases = [
      (["--config.agents.designer=llm", "--parents", parent, "--out", "o"], "environment variable GEMINI_API_KEY"),
      (["--operator", "crossover", "--parents", parent, "--out", "o"], "crossover takes 2 parent(s)"),
      (["--config.agents.designer=genius", "--parents", parent, "--out", "o"], "unknown designer 'genius'"),
      (["--config.agents.designer=llm", "--config.agents.llm.backend=claude", "--parents", parent, "--out", "o"],
       "unknown LLM backend 'claude'"),
      (["--config.agents.llm.models.critic=x", "--parents", parent, "--out", "o"], "unknown config field"),
      (["--parents", str(tmp_path / "missing"), "--out", "o"], "missing"),
  ]
  for args, message in cases:
    done = _agents(*args)
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1, (args, done.stderr)


def test_the_llm_flow_runs_from_a_recorded_transcript(tmp_path):
  """Records a scripted session in-process, then replays it through the command line (real checker)."""
  transcript = tmp_path / "transcript.jsonl"
  answers = {"proposer": [_proposal()], "reviewer": [_review(4)], "planner": [_plan()], "coder": [_code()],
             "observer": [_observe(4)]}
  client = LLMClient(RecordingBackend(ScriptedBackend(answers), transcript), {r: "gemini-2.5-flash" for r in ROLES},
                     {}, Ledger(), retries=0)
  parent = seed_design("gpt2").save(tmp_path / "gpt2")
  recorded = DesignSession(client, KnowledgeEngine(), fake_checker, FlowSettings(), "x").run(
      "mutation", [Parent(load_design(parent))], [], "x")
  assert recorded.ok
  done = _agents("--config.agents.designer=llm", "--config.agents.llm.backend=replay",
                 f"--config.agents.llm.replay_file={transcript}", "--parents", str(parent),
                 "--out", str(tmp_path / "out"), "--name", "x")
  assert done.returncode == 0, done.stdout + done.stderr[-1500:]
  record = json.loads((tmp_path / "out" / "x" / "session.json").read_text())
  assert [e["kind"] for e in record["events"]].count("call") == 5
  assert load_design(tmp_path / "out" / "x" / "design").content_hash() == recorded.proposal.design.content_hash()
