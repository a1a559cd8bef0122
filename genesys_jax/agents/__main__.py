"""Run one design session: the offline designer, the unit-by-unit LLM flow or the direct baseline.

    python -m genesys_jax.agents --config configs/default.py --operator mutation \
        --parents runs/default/designs/gpt2-<hash> --out runs/designs [--name my-design]
    ... --config.agents.designer=llm --config.agents.llm.backend=gemini   (needs GEMINI_API_KEY)

Writes the design directory and `session.json` (every prompt, answer, rating and check report) to
`--out/<name>/`. Exit 0: a design was produced; 1: the session failed (recorded); 2: bad input.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Sequence

from absl import flags
from ml_collections import config_flags

from genesys_jax import cli
from genesys_jax.agents import settings
from genesys_jax.agents.coder_reference import coder_reference
from genesys_jax.agents.direct_flow import DirectSession
from genesys_jax.agents.flow import DesignSession, FlowSettings, Parent, SessionResult
from genesys_jax.agents.knowledge.search import KnowledgeEngine
from genesys_jax.agents.llm.costs import Ledger
from genesys_jax.agents.llm.factory import make_client
from genesys_jax.agents.offline_designer import OfflineDesigner, sizes_on
from genesys_jax.agents.proposal import OPERATORS
from genesys_jax.check.checker import check_design
from genesys_jax.check.dynamic import CheckSettings
from genesys_jax.files import write_json_atomic
from genesys_jax.gau.design import Design, load_design
from genesys_jax.gau.errors import DesignError
from genesys_jax.gau.scales import get_scale

_CONFIG = config_flags.DEFINE_config_file("config", None, "A config file with an `agents` section.", lock_config=True)
_OPERATOR = flags.DEFINE_enum("operator", "mutation", list(OPERATORS), "The genetic operator.")
_PARENTS = flags.DEFINE_list("parents", [], "Parent design directories or block files (1 for mutation, 2 for crossover).")
_OUT = flags.DEFINE_string("out", None, "Where the new design and its session record go.")
_NAME = flags.DEFINE_string("name", None, "The new design's name (default: derived from the operator).")
_SEED = flags.DEFINE_integer("seed", 0, "Random seed of the offline designer.")
_ARITY = {"mutation": 1, "crossover": 2, "scratch": 0}


def _offline(config, parents: list[Design], name: str) -> SessionResult:
  e = config.evolve
  designer = OfflineDesigner(_SEED.value, admissible=sizes_on([get_scale(r) for r in e.rungs], e.size_tolerance))
  try:
    proposal = {"mutation": lambda: designer.mutate(parents[0], name),
                "crossover": lambda: designer.crossover(parents[0], parents[1], name),
                "scratch": lambda: designer.scratch(name)}[_OPERATOR.value]()
  except DesignError as e:
    return SessionResult(False, None, str(e), [], 0.0)
  return SessionResult(True, proposal, "composed from library units", [], 0.0)


def _llm(config, parents: list[Design], name: str) -> SessionResult:
  a = config.agents
  client = make_client(a.llm, Ledger(), settings.budget_cap(a))
  flow = FlowSettings(**a.flow.to_dict(), budget_usd=settings.budget_cap(a))
  session_type = DirectSession if a.designer == "direct" else DesignSession
  reference = coder_reference(CheckSettings(), get_scale(config.evolve.rungs[0]))
  session = session_type(client, KnowledgeEngine(), check_design, flow, name, reference=reference)
  return session.run(_OPERATOR.value, [Parent(p) for p in parents], [], name)


def main(argv: Sequence[str]) -> int:
  del argv
  config = cli.load_config(_CONFIG)
  if "agents" not in config or "evolve" not in config:
    raise cli.UsageProblem("the config needs `agents` and `evolve` sections (the ladder the designs must size "
                           "on); see configs/default.py")
  if not _OUT.value:
    raise cli.UsageProblem("--out is required")
  if len(_PARENTS.value) != _ARITY[_OPERATOR.value]:
    raise cli.UsageProblem(f"{_OPERATOR.value} takes {_ARITY[_OPERATOR.value]} parent(s) in --parents, "
                           f"got {len(_PARENTS.value)}")
  try:
    settings.validate(config.agents)
    parents = [load_design(p) for p in _PARENTS.value]
    if config.agents.designer != "offline":
      # a missing API key, unknown model or unpriced model under a budget fails here, before any work
      make_client(config.agents.llm, Ledger(), settings.budget_cap(config.agents))
  except (ValueError, DesignError) as e:
    raise cli.UsageProblem(str(e)) from e
  name = _NAME.value or "-".join([*(p.name for p in parents), _OPERATOR.value[:3], str(_SEED.value)])
  result = (_offline if config.agents.designer == "offline" else _llm)(config, parents, name)
  out = pathlib.Path(_OUT.value) / name
  out.mkdir(parents=True, exist_ok=True)
  record = {"ok": result.ok, "reason": result.reason, "cost_usd": result.cost_usd, "events": result.events}
  if result.proposal is not None:
    result.proposal.design.save(out / "design")
    record.update(rationale=result.proposal.rationale, operator=result.proposal.operator,
                  parents=list(result.proposal.parents), changed_units=list(result.proposal.changed_units))
  write_json_atomic(out / "session.json", record, default=str)
  print(f"{name}: {'designed' if result.ok else 'failed'} ({result.reason})")
  if result.proposal is not None:
    print(f"  {result.proposal.rationale}\n  design in {out / 'design'}")
  return 0 if result.ok else 1


if __name__ == "__main__":
  cli.run(main)
