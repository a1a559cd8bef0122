"""The controller: seeds the run, decides what to design and what to verify next, and runs the workers.

Decisions go into the store's queue as jobs; designer threads (in this process) and verifier processes
(`genesys_jax.evolve.worker`) take them with leases. Every decision is a pure function of the store and
a seeded generator, so a resumed run continues where it stopped: jobs already queued are kept, leases of
dead workers are taken back, finished work is never redone.
"""

from __future__ import annotations

import math
import pathlib
import signal
import subprocess
import sys
import threading
import time

import ml_collections
import numpy as np

from genesys_jax.agents.llm.costs import Ledger
from genesys_jax.agents.llm.factory import make_client
from genesys_jax.agents.settings import budget_cap
from genesys_jax.check.dynamic import fingerprint
from genesys_jax.check.sandbox import python_module, verifier_env
from genesys_jax.evolve import designing, fitness, layout, selection
from genesys_jax.evolve.leases import Heartbeat, is_dead, owner_name
from genesys_jax.evolve.progress import Snapshot, status_line
from genesys_jax.evolve.records import DesignView, design_views
from genesys_jax.evolve.run_scalars import RunScalars
from genesys_jax.evolve.settings import budgets
from genesys_jax.evolve.store_rows import DesignRow, NewDesign, VerificationRow
from genesys_jax.evolve.store import RUN_LEASE, EvolutionStore
from genesys_jax.files import read_json
from genesys_jax.report import write_report
from genesys_jax.gau.design import MANIFEST
from genesys_jax.gau.scales import get_scale
from genesys_jax.units.seeds import seed_design

_MAX_VERIFIER_FAILURES = 5
"""Verifier processes may die (out of memory, a crashing design) and are restarted, up to this often."""


class Controller:
  """Drives one run in `workdir` with `config` until the ladder budget is spent or it is stopped."""

  def __init__(self, workdir: pathlib.Path, config: ml_collections.ConfigDict, store: EvolutionStore,
               out=sys.stdout):
    self.workdir, self.config, self.store, self.out = workdir, config, store, out
    self.e = config.evolve
    self.budget = budgets(self.e)
    self.owner = owner_name("controller")
    self.stop = threading.Event()
    self.started = time.time()
    self._verifiers: dict[int, subprocess.Popen] = {}
    self._verifier_failures = 0
    self.failure: str | None = None  # why the run stopped on its own, when it did
    self._scalars: RunScalars | None = None
    self._designers: list[threading.Thread] = []
    self._designer_jobs: dict[str, int] = {}
    self._ledger = Ledger.of_calls(store.calls())  # what the run spent before a restart counts against its budget

  # ---- the run ----------------------------------------------------------------------------------

  def run(self) -> bool:
    """Runs to the end (True) or until `stop` is set (False)."""
    self.store.log_event("start", owner=self.owner)
    self.store.reclaim(is_dead, self.e.workers.max_attempts)
    self._add_seeds()
    client = None if self.config.agents.designer == "offline" else make_client(
        self.config.agents.llm, self._ledger, budget_cap(self.config.agents))
    for k in range(self.e.workers.designers):
      thread = threading.Thread(target=self._designer, args=(owner_name(f"designer{k}"), client), daemon=True)
      thread.start()
      self._designers.append(thread)
    last_status = last_report = 0.0
    self._scalars = RunScalars(self.workdir, self.e)
    try:
      while not self.stop.is_set():
        self._keep_run_lease()
        self.store.reclaim(is_dead, self.e.workers.max_attempts)
        self._keep_verifiers()
        snapshot = self.snapshot()
        self._scalars.update(snapshot)
        queued = self._plan(snapshot)
        if not queued and snapshot.idle and snapshot.design_closed and not self._open_verifications(snapshot):
          self.store.set_meta("finished", True)
          self.store.log_event("finished")
          print(status_line(self.snapshot(), self.budget, self.e, time.time() - self.started), file=self.out)
          return True
        if time.time() - last_report >= self.e.workers.report_every_s:
          self._write_report()
          last_report = time.time()
        if time.time() - last_status >= self.e.workers.status_every_s:
          print(status_line(snapshot, self.budget, self.e, time.time() - self.started), file=self.out, flush=True)
          last_status = time.time()
        self.stop.wait(0.5)
      return False
    finally:
      self._shutdown()

  def _write_report(self) -> None:
    """Rewrites the HTML report; a failure is logged, never fatal to the run."""
    try:
      write_report(self.workdir)
    except Exception as e:  # a report is a view of the store: the run goes on without it
      self.store.log_event("report_error", error=f"{type(e).__name__}: {e}")

  def _keep_run_lease(self) -> None:
    holder = self.store.acquire_lease(RUN_LEASE, self.owner, self.e.workers.lease_s, is_dead)
    if holder is not None:  # someone took over after our lease expired: stop at once
      self.store.log_event("lost_run_lease", holder=holder)
      self.stop.set()

  def _shutdown(self) -> None:
    self.stop.set()
    for proc in self._verifiers.values():
      if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    for proc in self._verifiers.values():
      try:
        proc.wait(timeout=120)
      except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    self.store.reclaim(is_dead, self.e.workers.max_attempts)  # the job of a verifier that had to be killed
    for thread in self._designers:
      thread.join(timeout=30)
    for owner, job_id in list(self._designer_jobs.items()):  # a session cut short goes back to the queue
      self.store.release(job_id, owner)
    if self._scalars is not None:
      self._scalars.update(self.snapshot())
      self._scalars.close()
    self.store.release_lease(RUN_LEASE, self.owner)
    self.store.log_event("stop")

  # ---- seeds ------------------------------------------------------------------------------------

  def _add_seeds(self) -> None:
    lowest = self.e.rungs[0]
    known = {r.name: r.id for r in self.store.designs() if r.seed}
    context = get_scale(self.config.check.scale).seq_len
    for name in self.e.seeds:
      design = seed_design(name)
      path = layout.design_directory(design)
      if not (self.workdir / path / MANIFEST).exists():
        design.save(self.workdir / path)
      seed_id = known.get(name)
      if seed_id is None:  # fingerprinted as the checker does new designs, so a copy of a seed is a duplicate
        seed_id = self.store.add_seed(NewDesign(
            name, design.content_hash(), read_json(self.workdir / path / MANIFEST), path, seed=True,
            rationale="seed design", fingerprint=fingerprint(design.materialize(), context)))
      self.store.enqueue("verify", f"verify:{seed_id}:{lowest}", {"design_id": seed_id, "rung": lowest})

  # ---- workers ----------------------------------------------------------------------------------

  def _designer(self, owner: str, client) -> None:
    w = self.e.workers
    while not self.stop.is_set():
      job = self.store.claim("design", owner, w.lease_s)
      if job is None:
        self.stop.wait(0.3)
        continue
      self._designer_jobs[owner] = job.id
      try:
        with Heartbeat(lambda: self.store.renew(job.id, owner, w.lease_s), w.heartbeat_s):
          designing.run_design_job(job, owner, self.store, self.workdir, self.config, client)
      except Exception as e:  # a bug or a broken parent: retried, then recorded as a failed session
        self.store.log_event("design_job_error", job=job.id, error=f"{type(e).__name__}: {e}")
        if not self.stop.is_set():
          designing.give_up_or_retry(job, owner, self.store, f"{type(e).__name__}: {e}", w.max_attempts)
      finally:
        self._designer_jobs.pop(owner, None)

  def _keep_verifiers(self) -> None:
    """Keeps one verifier process per slot running; a slot's process that exited is replaced."""
    for slot in range(self.e.workers.verifiers):
      proc = self._verifiers.get(slot)
      if proc is not None and proc.poll() is None:
        continue
      if proc is not None and proc.returncode != 0:
        self.store.log_event("verifier_exit", pid=proc.pid, code=proc.returncode)
        self._verifier_failures += 1
        if self._verifier_failures > _MAX_VERIFIER_FAILURES:
          self.failure = (f"verifier processes exited {self._verifier_failures} times (last exit code "
                          f"{proc.returncode}); run `python -m genesys_jax.evolve.worker --workdir {self.workdir}` "
                          "to see why")
          self.stop.set()
      if self.stop.is_set():
        return
      self._verifiers[slot] = subprocess.Popen(
          python_module("genesys_jax.evolve.worker", "--workdir", str(self.workdir), "--die_with_parent"),
          env=self._verifier_env(slot))

  def _verifier_env(self, k: int) -> dict[str, str]:
    """The environment of the verifier in slot `k` (allow-listed: no API keys or tokens): the GPUs it owns,
    when the config splits them."""
    devices = self.e.workers.visible_devices
    return verifier_env({"CUDA_VISIBLE_DEVICES": devices[k]} if devices else None)

  # ---- what the run knows -----------------------------------------------------------------------

  def snapshot(self) -> Snapshot:
    rows = self.store.designs()
    verifications = self.store.verifications()
    views = design_views(rows, verifications)
    ranking = fitness.rank_designs(views, self.e.selection.min_margin, self.e.selection.draw_margin)
    counts = self.store.job_counts()
    design_inflight = counts.get(("design", "pending"), 0) + counts.get(("design", "leased"), 0)
    sessions = sum(n for (kind, _), n in counts.items() if kind == "design")
    finished = counts.get(("design", "done"), 0) + counts.get(("design", "failed"), 0)
    verify_jobs = self.store.jobs("verify", ("pending", "leased"))
    implemented_new = sum(1 for r in rows if not r.seed and r.status == "implemented")
    budget_usd = self.config.agents.budget_usd
    spend = self.store.spend_usd()
    lowest = self.budget[self.e.rungs[0]]
    design_closed = (implemented_new >= lowest or sessions >= lowest * self.e.budget.max_sessions_factor
                     or (budget_usd > 0 and spend + self.store.session_estimate_usd() > budget_usd))
    return Snapshot(rows=rows, verifications=verifications, views=views, ranking=ranking,
                    verify_jobs=verify_jobs, design_inflight=design_inflight, sessions=sessions,
                    sessions_finished=finished,
                    implemented_new=implemented_new, spend_usd=spend, design_closed=design_closed,
                    idle=design_inflight == 0 and not verify_jobs)

  def _open_verifications(self, s: Snapshot) -> list[tuple[int, str]]:
    """(design, rung) pairs that may be queued now: each higher rung gets `ratio` of the rung below's
    finished verifications, up to its budget; candidates are designs that completed the rung below."""
    rungs = list(self.e.rungs)
    rows = {r.id: r for r in s.rows}
    done = {(v.design_id, v.rung) for v in s.verifications}
    queued = {(j.payload["design_id"], j.payload["rung"]) for j in s.verify_jobs}
    completed = {(v.design_id, v.rung) for v in s.verifications if v.status == "completed"}
    out = []
    for k in range(1, len(rungs)):
      below, rung = rungs[k - 1], rungs[k]
      finished_below = sum(1 for (d, r) in done if r == below and not rows[d].seed)
      used = sum(1 for (d, r) in done | queued if r == rung and not rows[d].seed)
      allowed = min(self.budget[rung], math.floor(finished_below * self.e.budget.ratio + 1e-9)) - used
      if allowed <= 0:
        continue
      out.extend((d, rung) for (d, r) in completed if r == below and not rows[d].seed
                 and (d, rung) not in done and (d, rung) not in queued)
    return sorted(out)

  # ---- decisions --------------------------------------------------------------------------------

  def _plan(self, s: Snapshot) -> int:
    """Queues what the budget allows now; how many jobs were queued."""
    queued = 0
    confidences = {v.id: fitness.confidence(v, self.e.rungs) for v in s.views}
    if not s.design_closed and s.design_inflight < self.e.workers.designers and not self._verifiers_behind(s):
      queued += self._queue_design(s, s.views, confidences)
    candidates = self._open_verifications(s)
    if candidates:
      rng = np.random.default_rng([self.e.seed, 1, len(s.verifications) + len(s.verify_jobs)])
      choice = selection.choose_verification(rng, candidates, s.ranking, confidences, self.e)
      if choice is not None:
        design_id, rung = choice
        queued += self.store.enqueue("verify", f"verify:{design_id}:{rung}", {"design_id": design_id, "rung": rung})
        self.store.log_event("promote", design_id=design_id, rung=rung)
    queued += self._queue_reference_seeds(s)
    return queued

  def _verifiers_behind(self, s: Snapshot) -> bool:
    """Whether `design_ahead` new designs already wait for their lowest-rung verification: a design started
    now would choose its parents before their results are in (the seeds' own wait does not count: the
    first sessions, whose parents are seeds, overlap it)."""
    ahead, seeds = self.e.workers.design_ahead, _seed_ids(s.rows)
    waiting = sum(1 for j in s.verify_jobs if j.payload["rung"] == self.e.rungs[0]
                  and j.payload["design_id"] not in seeds)
    return bool(ahead) and waiting >= ahead

  def _queue_design(self, s: Snapshot, views: list[DesignView], confidences: dict[int, int]) -> int:
    index = s.sessions
    rng = np.random.default_rng([self.e.seed, 0, index])
    seeds = _seed_ids(s.rows)
    n_verified = len({v.design_id for v in s.verifications if v.design_id not in seeds})
    operator = selection.choose_operator(rng, s.implemented_new, self.e)
    try:
      parents = selection.choose_parents(rng, operator, views, s.ranking, confidences, n_verified, self.e)
    except ValueError:
      operator, parents = "mutation", selection.choose_parents(rng, "mutation", views, s.ranking, confidences,
                                                                n_verified, self.e)
    name = f"d{index + 1:03d}-{operator[:3]}"
    payload = {"operator": operator, "parents": list(parents), "name": name,
               "seed": designing.design_seed(self.e.seed, index)}
    return int(self.store.enqueue("design", f"design:{index}", payload))

  def _queue_reference_seeds(self, s: Snapshot) -> int:
    """The best `reference_seeds` seeds at the lowest rung climb to every rung the run opens."""
    n = self.e.budget.reference_seeds
    lowest = self.e.rungs[0]
    seeds = [r for r in s.rows if r.seed]
    seed_results = {v.design_id: v for v in s.verifications if v.rung == lowest and v.design_id in {r.id for r in seeds}}
    if not n or len(seed_results) < len(seeds):
      return 0
    chosen = self.store.get_meta("reference_seeds")
    if chosen is None:
      chosen = sorted(seed_results, key=lambda i: _bpb(seed_results[i]))[:n]
      self.store.set_meta("reference_seeds", chosen)
    opened = {j.payload["rung"] for j in s.verify_jobs} | {v.rung for v in s.verifications}
    queued = 0
    for k, rung in enumerate(self.e.rungs[1:], start=1):
      if rung not in opened:
        continue
      for seed_id in chosen:
        below = next((v for v in s.verifications if v.design_id == seed_id and v.rung == self.e.rungs[k - 1]), None)
        if below is not None and below.status == "completed":
          queued += self.store.enqueue("verify", f"verify:{seed_id}:{rung}", {"design_id": seed_id, "rung": rung})
    return queued


def _seed_ids(rows: list[DesignRow]) -> set[int]:
  return {r.id for r in rows if r.seed}


def _bpb(v: VerificationRow) -> float:
  if v.status != "completed":
    return math.inf
  return v.results["eval"]["validation"]["bits_per_byte"]
