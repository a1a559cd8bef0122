"""A design job: one design session (offline designer or LLM flow), the sandboxed check of its design,
and the record of both in the store, together with the design's first verification job."""

from __future__ import annotations

import dataclasses
import pathlib
import time
from collections.abc import Mapping, Sequence

import ml_collections
import numpy as np

from genesys_jax.agents.coder_reference import coder_reference
from genesys_jax.agents.direct_flow import DirectSession
from genesys_jax.agents.flow import DesignSession, FlowSettings, Parent
from genesys_jax.agents.knowledge.search import KnowledgeEngine
from genesys_jax.agents.llm.client import LLMClient
from genesys_jax.agents.offline_designer import OfflineDesigner, sizes_on
from genesys_jax.agents.proposal import Proposal
from genesys_jax.agents.settings import budget_cap
from genesys_jax.check.checker import check_design
from genesys_jax.check.dynamic import RATIO_LIMITS
from genesys_jax.check.settings import settings_of
from genesys_jax.evolve import layout
from genesys_jax.evolve.store_rows import DesignRow, Job, NewDesign, SessionRecord
from genesys_jax.evolve.store import EvolutionStore
from genesys_jax.files import read_json
from genesys_jax.gau.design import MANIFEST, Design, load_design
from genesys_jax.gau.errors import DesignError
from genesys_jax.gau.scales import get_scale


def parent_summary(store: EvolutionStore, design_id: int) -> str:
  """How a parent did, in a line the proposer reads."""
  done = [v for v in store.verifications() if v.design_id == design_id and v.status == "completed"]
  if not done:
    return "not verified yet"
  return "; ".join(f"{v.rung}: validation bits/byte {v.results['eval']['validation']['bits_per_byte']:.3f} "
                   f"(untrained {v.results['random_init']['validation']['bits_per_byte']:.2f})" for v in done)


def parent_efficiency(row: DesignRow, checks: Mapping[int, dict]) -> dict[str, float] | None:
  """A parent's time, memory and FLOPs ratios to the GPT seed's from its recorded check (`checks`: design
  id -> check report; the GPT seed is the reference, 1x); None when never measured (the other seeds)."""
  if row.seed:
    return {what: 1.0 for what in RATIO_LIMITS} if row.name == "gpt2" else None
  if row.id not in checks:
    return None
  figures = {c["name"]: c.get("figures", {}).get(f"{c['name']}_ratio") for c in checks[row.id]["checks"]}
  return {what: float(figures[what]) for what in RATIO_LIMITS if figures.get(what) is not None} or None


def _offline_session(job: Job, config: ml_collections.ConfigDict, parents: Sequence[Design],
                     avoid: set[str]) -> tuple[Proposal | None, str]:
  e = config.evolve
  designer = OfflineDesigner(int(job.payload["seed"]),
                             admissible=sizes_on([get_scale(r) for r in e.rungs], e.size_tolerance))
  operator, name = job.payload["operator"], job.payload["name"]
  try:
    if operator == "mutation":
      return designer.mutate(parents[0], name, avoid), "composed from library units"
    if operator == "crossover":
      return designer.crossover(parents[0], parents[1], name, avoid), "composed from library units"
    return designer.scratch(name, avoid), "composed from library units"
  except DesignError as err:
    return None, str(err)


def family_seed(rows: dict[int, DesignRow], parent_ids: list[int]) -> str:
  """The seed a design descends from through its first parents ("" for a from-scratch design)."""
  seen: set[int] = set()
  while parent_ids and parent_ids[0] in rows and parent_ids[0] not in seen:
    row = rows[parent_ids[0]]
    if row.seed:
      return row.name
    seen.add(row.id)
    parent_ids = list(row.parents)
  return ""


def run_design_job(job: Job, owner: str, store: EvolutionStore, workdir: pathlib.Path,
                   config: ml_collections.ConfigDict, client: LLMClient | None) -> int | None:
  """Runs the design session `job` describes and records it; returns the new design's id, if any."""
  started = time.perf_counter()
  rows: dict[int, DesignRow] = {r.id: r for r in store.designs()}
  parent_rows = [rows[i] for i in job.payload["parents"]]
  parents = [load_design(workdir / r.path) for r in parent_rows]
  operator, name = job.payload["operator"], job.payload["name"]
  events: tuple[dict, ...] = ()
  cost = 0.0
  if config.agents.designer == "offline":
    proposal, reason = _offline_session(job, config, parents, {r.content_hash for r in rows.values()})
  else:
    flow = FlowSettings(**config.agents.flow.to_dict(), budget_usd=budget_cap(config.agents),
                        session_estimate_usd=store.session_estimate_usd())
    session_type = DirectSession if config.agents.designer == "direct" else DesignSession
    check_settings, limits = settings_of(config.check)
    check_settings = dataclasses.replace(check_settings, family=family_seed(rows, job.payload["parents"]))
    session = session_type(client, KnowledgeEngine(), lambda d: check_design(d, check_settings, limits), flow, name,
                           on_call=lambda call: store.record_call(job.id, call.to_json()),
                           reference=coder_reference(check_settings, get_scale(config.evolve.rungs[0]), limits.timeout_s))
    siblings = [f"{r.name}: {' '.join(r.rationale.split())[:300]}" if r.rationale else r.name
                for r in rows.values() if set(r.parents) & set(job.payload["parents"])]
    checks = {s["design_id"]: s["check"] for s in store.sessions() if s["check"]}
    result = session.run(operator, [Parent(d, parent_summary(store, r.id), parent_efficiency(r, checks))
                                    for d, r in zip(parents, parent_rows)], siblings, name)
    proposal, reason, events, cost = result.proposal, result.reason, tuple(result.events), result.cost_usd
  new, status, report = None, "rejected", None
  if proposal is not None:
    design = proposal.design
    path = layout.design_directory(design)
    design.save(workdir / path)
    check_settings, limits = settings_of(config.check)
    check_settings = dataclasses.replace(check_settings, family=family_seed(rows, job.payload["parents"]))
    report = check_design(design, check_settings, limits).to_json()
    status = "implemented" if report["ok"] else "rejected"
    new = NewDesign(design.name, design.content_hash(), read_json(workdir / path / MANIFEST), path, operator=operator,
                    parents=tuple(job.payload["parents"]), fingerprint=report["figures"].get("fingerprint"),
                    rationale=proposal.rationale, changed_units=proposal.changed_units)
    if not report["ok"]:
      reason = "rejected by the checker: " + "; ".join(c["name"] for c in report["checks"] if not c["ok"])
  record = SessionRecord(config.agents.designer, operator, proposal is not None, reason,
                         time.perf_counter() - started, cost, events, report)
  return store.finish_design_job(job, owner, record, new, status, config.evolve.rungs[0])


def design_seed(run_seed: int, index: int) -> int:
  """The offline designer's seed for the run's `index`-th design job (reproducible on resume)."""
  return int(np.random.default_rng([run_seed, index]).integers(2**31))


def give_up_or_retry(job: Job, owner: str, store: EvolutionStore, error: str, max_attempts: int) -> None:
  """After an unexpected error: retry the job, or after `max_attempts` record it as a failed session."""
  if job.attempts < max_attempts:
    store.fail(job.id, owner, error, max_attempts)
    return
  record = SessionRecord("error", job.payload["operator"], False, error, 0.0)
  store.finish_design_job(job, owner, record, None, "rejected", None)
