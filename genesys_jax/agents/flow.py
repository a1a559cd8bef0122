"""A design session: propose and review, then implement the proposal one unit at a time.

The proposer writes a proposal (searching the knowledge engine when it asks), the reviewer rates it and
sends it back until it passes; the planner picks the next unit, the coder writes it, the checker tests
it inside the design and the observer rates it, with the reports fed back to the coder for up to
`max_unit_attempts` tries. A unit that never passes is rolled back and ends the session as failed.
Every prompt, answer, rating, check report and tree is recorded in the session's events.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from absl import logging

from genesys_jax.agents import roles, tree_ops
from genesys_jax.agents.coder_reference import default_reference
from genesys_jax.agents.knowledge.search import KnowledgeEngine
from genesys_jax.agents.llm.client import CallRecord, LLMClient
from genesys_jax.agents.proposal import OPERATORS, Proposal
from genesys_jax.check.dynamic import RATIO_LIMITS
from genesys_jax.check.report import CheckReport
from genesys_jax.gau.design import Design, Lineage, UnitSpec
from genesys_jax.gau.errors import DesignError
from genesys_jax.gau.sizing import tree_params
from genesys_jax.units.catalog import catalog
from genesys_jax.units.library import UNIT_FILES
from genesys_jax.units.seeds import seed_design

Checker = Callable[[Design], CheckReport]


@dataclasses.dataclass(frozen=True)
class FlowSettings:
  """The loop limits and pass marks (the paper's: review passes at 4, observer accepts at 3, 7 tries)."""

  max_search_rounds: int = 2
  max_review_rounds: int = 5
  review_pass: int = 4
  max_unit_attempts: int = 7
  observer_pass: int = 3
  knowledge_hits: int = 4
  online_search: bool = False  # also ask arXiv and Semantic Scholar (skipped silently without a network)
  budget_usd: float = float("inf")
  session_estimate_usd: float = 0.0  # what a session is expected to cost; none starts unless the budget covers it


@dataclasses.dataclass(frozen=True)
class Parent:
  """A parent design, a short text of how it did (for the proposer) and, where measured, its training
  step's time, memory and FLOPs as ratios to the GPT seed's (for the coder's efficiency feedback)."""

  design: Design
  results: str = "not verified yet"
  efficiency: Mapping[str, float] | None = None


@dataclasses.dataclass
class SessionResult:
  """How a session ended; `events` is its complete record."""

  ok: bool
  proposal: Proposal | None
  reason: str
  events: list[dict[str, Any]]
  cost_usd: float


class SessionFailed(Exception):
  """Ends a session early with a reason (recorded; the run goes on)."""


LEAF_SLOT = "PreNormBlock.mixer"
"""Where a unit written before its parent is checked: the GPT seed's mixer slot."""

DESCRIBE_WIDTH = 64
"""The width at which a parent's units are counted for the agents."""


def _positions(design: Design, unit: str, path: str = "", where: str = "(root)") -> list[tuple[str, str, str]]:
  """(count path, `Owner.slot`, unit) depth first; count paths are `tree_params` keys."""
  out = [(path, where, unit)]
  for slot, child in design.units[unit].children.items():
    out += _positions(design, child, f"{path}.{slot}".lstrip("."), f"{unit}.{slot}")
  return out


def describe(design: Design) -> str:
  """A design as the agents read it: its tree (every slot `Owner.slot` with its unit, hyperparameters and
  parameters per block), then the code of every unit that is not from the library."""
  counts = tree_params(design, DESCRIBE_WIDTH)
  lines = [f"design {design.name}: root {design.root} (each slot as `Owner.slot: Unit`; params: one block "
           f"at embed_dim {DESCRIBE_WIDTH}, children included)"]
  for path, where, unit in _positions(design, design.root):
    lines.append(f"  {where}: {unit} hparams={dict(design.units[unit].hparams)} params={counts.get(path, 0):,}")
  for unit in design.reachable_units():
    spec = design.units[unit]
    if unit not in UNIT_FILES:
      lines.append(f"\n# {spec.file}\n{design.files[spec.file]}")
  return "\n".join(lines)


def library_listing() -> str:
  return "\n".join(f"- {u.name} ({u.kind}): {u.summary}" for u in catalog().values())


def snake(name: str) -> str:
  return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class DesignSession:
  """One design session of the unit-by-unit flow."""

  def __init__(self, client: LLMClient, knowledge: KnowledgeEngine, checker: Checker,
               settings: FlowSettings = FlowSettings(), design_id: str | None = None,
               on_call: Callable[[CallRecord], None] | None = None, reference: str | None = None):
    """`on_call` sees every call record as soon as it is made (the store keeps spend that way, even of a
    session that never finishes); `reference` is the coder's reference (`coder_reference`; by default the
    one for the checker's default settings)."""
    self.client, self.knowledge, self.checker, self.settings = client, knowledge, checker, settings
    self.design_id = design_id
    self.on_call = on_call
    self.reference = reference if reference is not None else default_reference()
    self.events: list[dict[str, Any]] = []

  # ---- recording and asking ---------------------------------------------------------------------

  def record(self, kind: str, **fields: Any) -> None:
    self.events.append({"kind": kind, **fields})

  def ask(self, role: roles.Role, **values: str) -> CallRecord:
    record = self.client.ask(roles.render(role, **values), self.design_id)
    self.record("call", **record.to_json())
    if self.on_call is not None:
      self.on_call(record)
    return record

  def _search(self, queries: Sequence[str]) -> str:
    """The papers the knowledge engine finds for `queries` (library units are listed in the prompt already)."""
    hits = {}
    for query in queries:
      for hit in self.knowledge.search(query, k=self.settings.knowledge_hits, online=self.settings.online_search):
        if hit.id not in UNIT_FILES:
          hits.setdefault(hit.id, hit)
    self.record("search", queries=list(queries), hits=list(hits))
    return "\n".join(f"- {h.title} ({h.year}{', arXiv ' + h.arxiv if h.arxiv else ''}): {h.summary}"
                     for h in hits.values()) or "(nothing found)"

  # ---- the session ------------------------------------------------------------------------------

  def run(self, operator: str, parents: Sequence[Parent], siblings: Sequence[str], name: str) -> SessionResult:
    """Designs `name` by `operator` from `parents`; never raises for agent failures."""
    if operator not in OPERATORS:
      raise ValueError(f"unknown operator {operator!r}; choose one of {OPERATORS}")
    spent = self.client.ledger.total().cost_usd
    remainder = self.settings.budget_usd - spent
    if remainder <= 0 or self.settings.session_estimate_usd > remainder:
      self.record("budget", spent=spent, estimate=self.settings.session_estimate_usd, cap=self.settings.budget_usd)
      return SessionResult(False, None, f"the run's LLM budget (${self.settings.budget_usd:.2f}, ${spent:.2f} "
                           "spent) cannot cover another session", self.events, 0.0)
    try:
      answer = self.propose_and_review(operator, parents, siblings)
      design = self.implement(answer, operator, parents, name)
    except SessionFailed as e:
      self.record("failed", reason=str(e))
      return SessionResult(False, None, str(e), self.events, self._cost())
    except Exception as e:  # a bug or a crashing check: the session fails, its calls stay on the record
      logging.exception("design session %s crashed", name)
      reason = f"the session crashed: {type(e).__name__}: {e}"
      self.record("failed", reason=reason)
      return SessionResult(False, None, reason, self.events, self._cost())
    proposal = Proposal(design, operator, tuple(p.design.name for p in parents),
                        tuple(u["name"] for u in answer["new_units"]) or tuple(answer["selection"]),
                        f"{answer['title']}: {answer['idea']}")
    self.record("accepted", design=design.name, content_hash=design.content_hash())
    return SessionResult(True, proposal, "implemented", self.events, self._cost())

  def _cost(self) -> float:
    """What this session's own calls cost (other sessions may be asking the same client meanwhile)."""
    return sum(e["cost_usd"] for e in self.events if e["kind"] == "call")

  def propose_and_review(self, operator: str, parents: Sequence[Parent], siblings: Sequence[str]) -> dict:
    """The proposer's answer that passed review; SessionFailed when none does."""
    instruction = {
        "mutation": "mutation: change exactly one unit of the parent into new units (name it in `selection`: a "
                    "unit name changes it in every slot it fills, `Owner.slot` changes that one slot only).",
        "crossover": "crossover: combine units of the two parents (`selection`: the first parent's non-root unit "
                     "or `Owner.slot` to replace, then the second parent's unit to put in its place); new units are "
                     "optional.",
        "scratch": "designing from scratch: a new root unit (first of `new_units`) built from new and library units.",
    }[operator]
    parent_text = "\n\n".join(f"{describe(p.design)}\nresults: {p.results}" for p in parents) or "(none)"
    sibling_text = "\n".join(f"- {s}" for s in siblings) or "(none)"
    queries = [f"{operator} {u}" for p in parents for u in p.design.reachable_units()[:3]] or ["language model block"]
    knowledge = self._search(queries[:3])
    feedback = ""
    for _ in range(self.settings.max_review_rounds):
      answer = None
      for search_round in range(self.settings.max_search_rounds + 1):
        call = self.ask(roles.PROPOSER, operator_instruction=instruction, parents=parent_text,
                        siblings=sibling_text, knowledge=knowledge, library=library_listing(), feedback=feedback)
        if not call.ok:
          raise SessionFailed(f"the proposer gave no valid answer: {call.error}")
        answer = call.parsed
        if answer["search_queries"] and search_round < self.settings.max_search_rounds:
          knowledge += "\n" + self._search(answer["search_queries"])
          feedback = "The knowledge base now includes the results of your queries. Finalize the proposal.\n"
          continue
        break
      problem = _proposal_problem(answer, operator, parents)
      if problem:
        self.record("review", rating=0, passed=False, review=problem)
        feedback = f"Your last proposal cannot be implemented: {problem}\n"
        continue
      review = self.ask(roles.REVIEWER, proposal=json.dumps(answer, indent=1), parents=parent_text,
                        siblings=sibling_text, knowledge=knowledge)
      if not review.ok:
        raise SessionFailed(f"the reviewer gave no valid answer: {review.error}")
      rating = review.parsed["rating"]
      passed = rating >= self.settings.review_pass
      self.record("review", rating=rating, passed=passed, **{k: review.parsed[k] for k in (
          "novelty", "soundness", "efficiency", "scalability")})
      if passed:
        return {**answer, "reviewer_suggestions": review.parsed["suggestions"]}
      feedback = (f"The reviewer rated your last proposal {rating}/5:\n{review.parsed['review']}\n"
                  f"Suggestions: {review.parsed['suggestions']}\nRevise the proposal.\n")
    raise SessionFailed(f"the proposal did not pass review in {self.settings.max_review_rounds} rounds")

  # ---- implementation ---------------------------------------------------------------------------

  def implement(self, answer: dict, operator: str, parents: Sequence[Parent], name: str) -> Design:
    """Writes the proposal's new units one at a time into the starting tree; the finished design."""
    base, target = _starting_point(answer, operator, parents)
    base = base.replace(name=name, lineage=Lineage(tuple(p.design.content_hash() for p in parents), operator,
                                                   tuple(u["name"] for u in answer["new_units"])))
    pending = [u["name"] for u in answer["new_units"]]
    top = pending[0] if pending else None
    descriptions = {u["name"]: u["description"] for u in answer["new_units"]}
    written: dict[str, tuple[UnitSpec, str]] = {}
    proposal_text = json.dumps(answer, indent=1)  # with the passing review's suggestions, for planner and coder
    while pending:
      plan = self.ask(roles.PLANNER, proposal=proposal_text, pending=", ".join(pending),
                      done=", ".join(written) or "(none)", library=", ".join(UNIT_FILES))
      unit = plan.parsed["next_unit"] if plan.ok and plan.parsed["next_unit"] in pending else pending[0]
      notes = plan.parsed["notes"] if plan.ok else ""
      spec_file = self._write_unit(unit, descriptions[unit], notes, proposal_text, base, target, written, top,
                                   parents)
      if spec_file is None:
        self.record("rollback", unit=unit, tree=sorted(written))
        raise SessionFailed(f"unit {unit} failed {self.settings.max_unit_attempts} attempts; rolled back")
      written[unit] = spec_file
      pending.remove(unit)
      self.record("tree", units=sorted(written))
    design = base if top is None else _place(base, target, top, written)
    if top is None:  # a crossover that only recombines: check the grafted design itself
      report = self.checker(design)
      self.record("check", unit=None, report=report.to_json())
      if not report.ok:
        raise SessionFailed(f"the recombined design fails the checker: {report.feedback()}")
    return design

  def _write_unit(self, unit: str, description: str, notes: str, proposal: str, base: Design, target: str,
                  written: dict[str, tuple[UnitSpec, str]], top: str | None = None,
                  parents: Sequence[Parent] = ()) -> tuple[UnitSpec, str] | None:
    """Coder, checker and observer in a loop; the accepted unit's spec and code, or None.

    A unit that is not `top` (the proposal's first unit) but would replace the whole block (a leaf written
    before the root it serves) is checked in a standard pre-norm block instead, in its mixer slot, so a
    correct leaf is never judged as if it were a block."""
    feedback = ""
    available = sorted(set(UNIT_FILES) | set(written) | set(base.units))
    context = "\n\n".join(f"# {u}\n{code}" for u, (_, code) in written.items()) or "(none yet)"
    for attempt in range(1, self.settings.max_unit_attempts + 1):
      call = self.ask(roles.CODER, playbook=roles.prompt_file("playbook.md"), reference=self.reference,
                      template=roles.prompt_file("unit_template.py.txt").replace("$unit_name", unit),
                      proposal=proposal, unit_name=unit, unit_description=description, notes=notes,
                      available=", ".join(available), context=context, feedback=feedback)
      if not call.ok:
        feedback = f"Your last answer could not be used ({call.error}). Answer with the JSON object asked for.\n"
        continue
      code = call.parsed["code"]
      children = {c["slot"]: c["unit"] for c in call.parsed["children"]}
      hparams = {h["name"]: h["value"] for h in call.parsed["hparams"]}
      problem = _code_answer_problem(call.parsed, unit, available)
      if problem:
        self.record("refused", unit=unit, attempt=attempt, reason=problem)
        feedback = problem + "\n"
        continue
      spec = UnitSpec(f"{snake(unit)}.py", children, hparams)
      try:
        if target == base.root and top is not None and unit != top:
          trial = _place(seed_design("gpt2").replace(name=base.name), LEAF_SLOT, unit, {**written, unit: (spec, code)})
        else:
          trial = _place(base, target, unit, {**written, unit: (spec, code)})
      except DesignError as e:
        self.record("refused", unit=unit, attempt=attempt, reason=str(e))
        feedback = f"The unit does not fit in the design: {e}\n"
        continue
      report = self.checker(trial)
      self.record("check", unit=unit, attempt=attempt, report=report.to_json())
      if not report.ok:
        feedback = (f"The checker rejected your last version of {unit}. That version:\n```python\n{code}\n```\n"
                    f"children={children} hparams={hparams}\nThe checker's whole report:\n{report.full_text()}\n"
                    f"{efficiency_note(report, parents)}Fix what the failed checks say.\n")
        continue
      review = self.ask(roles.OBSERVER, proposal=proposal, unit_name=unit, code=code, report=report.feedback())
      rating = review.parsed["rating"] if review.ok else None
      self.record("observe", unit=unit, attempt=attempt, rating=rating)
      if rating is not None and rating < self.settings.observer_pass:
        feedback = (f"The observer rated your last version {rating}/5: {review.parsed['review']}\n"
                    f"Suggestions: {review.parsed['suggestions']}\n")
        continue
      return spec, code
    return None


def efficiency_note(report: CheckReport, parents: Sequence[Parent]) -> str:
  """After a failed or warned efficiency check: what the parents' own training steps cost, where measured."""
  if not any(not c.ok and c.name in RATIO_LIMITS for c in report.checks):
    return ""
  lines = [f"For comparison, parent {p.design.name}'s own training step: "
           + ", ".join(f"{what} {ratio:.2f}x" for what, ratio in p.efficiency.items()) + " the GPT seed's.\n"
           for p in parents if p.efficiency]
  return "".join(lines) or ("The parents' own step costs were not measured; the GPT seed's are the 1x "
                            "reference.\n" if parents else "")


def _code_answer_problem(parsed: dict, unit: str, available: Sequence[str]) -> str | None:
  """Why a coder's answer cannot be placed as stated, or None."""
  if parsed["unit_name"] != unit:
    return f"Write the unit {unit}, not another."
  missing = [c["unit"] for c in parsed["children"] if c["unit"] not in available]
  if missing:
    return f"Your last answer used {missing} as children, which do not exist; use only: {', '.join(available)}."
  for field, key in (("children", "slot"), ("hparams", "name")):
    names = [entry[key] for entry in parsed[field]]
    if len(set(names)) < len(names):
      return f"Your last answer gives a {key} twice in `{field}`; give each once."
  return None


def _proposal_problem(answer: dict, operator: str, parents: Sequence[Parent]) -> str | None:
  """Why a proposal cannot be implemented as stated, or None."""
  existing = set(UNIT_FILES) | {u for p in parents for u in p.design.units}
  clashes = [u["name"] for u in answer["new_units"] if u["name"] in existing]
  if clashes:
    return f"new units {clashes} must have new names (those exist already)"
  if any(not re.fullmatch(r"[A-Z][A-Za-z0-9]*", u["name"]) for u in answer["new_units"]):
    return "new unit names must be CamelCase identifiers"
  if operator == "mutation":
    parent = parents[0].design
    if not answer["selection"] or (answer["selection"][0] != parent.root
                                   and not _target_slots(parent, answer["selection"][0])):
      return (f"`selection` must name one unit of {parent.name} ({', '.join(parent.reachable_units())}) or one of "
              f"its slots ({', '.join(f'{s.owner}.{s.slot}' for s in tree_ops.slots(parent))})")
    if not answer["new_units"]:
      return "a mutation must list the new unit that replaces the selected one"
  if operator == "crossover":
    first, second = parents[0].design, parents[1].design
    if len(answer["selection"]) != 2 or not _target_slots(first, answer["selection"][0]) \
        or answer["selection"][1] not in second.reachable_units():
      return (f"`selection` must be [a non-root unit or `Owner.slot` of {first.name}, a unit of {second.name}]")
  if operator == "scratch" and not answer["new_units"]:
    return "a design from scratch must list its new root unit"
  return None


def _starting_point(answer: dict, operator: str, parents: Sequence[Parent]) -> tuple[Design, str]:
  """The tree the new units go into and the unit the first new unit replaces there."""
  if operator == "scratch":
    base = parents[0].design if parents else seed_design("gpt2")
    return base, base.root
  parent = parents[0].design
  if operator == "mutation":
    return parent, answer["selection"][0]
  replaced, donor = answer["selection"]
  grafted = parent
  for slot in _target_slots(parent, replaced):
    grafted = tree_ops.graft(grafted, slot, parents[1].design, donor)
  return grafted, donor


def _place(base: Design, target: str, unit: str, written: dict[str, tuple[UnitSpec, str]]) -> Design:
  """`base` with `unit` (and the written units and library units it uses) in place of `target`."""
  units, files = tree_ops.with_library_children({u: spec for u, (spec, _) in written.items()},
                                                {spec.file: code for spec, code in written.values()}, base.units)
  if target == base.root:
    design = base.replace(root=unit, units={**base.units, **units}, files={**base.files, **files})
    return tree_ops.prune(design)
  design = base
  for slot in _target_slots(base, target):
    design = tree_ops.fill_slot(design, slot.owner, slot.slot, unit, units, files)
  return design


def _target_slots(design: Design, target: str) -> list[tree_ops.Slot]:
  """The slots `target` names: `Owner.slot` that one slot, a unit name every slot the unit fills."""
  if "." in target:
    owner, slot = target.split(".", 1)
    return [s for s in tree_ops.slots(design) if (s.owner, s.slot) == (owner, slot)]
  return [s for s in tree_ops.slots(design) if s.filler == target]
