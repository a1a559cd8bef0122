"""A design page from a real LLM design session (scripted answers, as in tests/evolve/test_designing.py):
the proposal, the review and its rating, the observer's rating, the calls and the new unit's code."""

from agents.test_flow import _code, _observe, _plan, _proposal, _review
from evolve.test_controller import _config
from evolve.test_designing import _client, _fingerprinting_checker, seeded_store
from genesys_jax.evolve import designing
from genesys_jax.report import write_report


def test_an_llm_session_shows_its_proposal_review_ratings_and_calls(tmp_path, monkeypatch):
  monkeypatch.setattr(designing, "check_design", _fingerprinting_checker)
  store, _ = seeded_store(tmp_path)
  config = _config()
  config.agents.designer = "llm"
  client = _client({"proposer": [_proposal()] * 2, "reviewer": [_review(3), _review(4)],  # revised once
                    "planner": [_plan()], "coder": [_code()], "observer": [_observe(4)]})
  designing.run_design_job(store.claim("design", "me", 60), "me", store, tmp_path, config, client)
  store.close()
  index = write_report(tmp_path)
  page = (index.parent / "designs" / "d001-mut.html").read_text()
  assert "Prefix means" in page and "replace attention by a gated running mean" in page  # the proposal
  assert "<b>3</b>/5" in page and "<b>4</b>/5" in page and "rated 4" in page and "add gating" in page
  assert "observer ratings of the units" in page
  assert "causal_mean_mixer.py</code> (CausalMeanMixer) <span class=\"badge new\">new file" in page
  assert page.count("<b>proposer</b>") == 2 and "<b>coder</b>" in page
  assert "no review" not in page
