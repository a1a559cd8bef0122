"""The evolution store: designs, lineage, design sessions and their LLM calls, check reports,
verifications per rung, the work queue with leases, and run events.

`EvolutionStore` is the interface the rest of the system uses; `SQLiteStore` implements it on one
SQLite file in WAL mode inside the run directory (many threads and processes may open it at once; a
shared database server can implement the same interface for multi-host runs). The schema is
versioned: opening an older store migrates it, opening a newer one is refused.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import json
import pathlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from genesys_jax.evolve.store_schema import MIGRATIONS, SCHEMA_VERSION


class StoreError(Exception):
  """A store that cannot be used: unreadable, from a newer version, or inconsistent; one sentence."""


@dataclasses.dataclass(frozen=True)
class Job:
  id: int
  kind: str
  key: str
  payload: dict[str, Any]
  attempts: int


@dataclasses.dataclass(frozen=True)
class DesignRow:
  id: int
  name: str
  content_hash: str
  fingerprint: str | None
  seed: bool
  operator: str | None
  status: str
  path: str
  parents: tuple[int, ...]
  rationale: str
  changed_units: tuple[str, ...]
  created: float


@dataclasses.dataclass(frozen=True)
class VerificationRow:
  design_id: int
  rung: str
  status: str
  results: dict[str, Any]
  run_dir: str
  seconds: float
  created: float


@dataclasses.dataclass(frozen=True)
class NewDesign:
  """A design to record: its row fields and where its directory was written."""

  name: str
  content_hash: str
  tree: dict[str, Any]
  path: str
  seed: bool = False
  operator: str | None = None
  parents: tuple[int, ...] = ()
  fingerprint: str | None = None
  rationale: str = ""
  changed_units: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class SessionRecord:
  """A finished design session: what it produced, the check of its design and every LLM call."""

  designer: str
  operator: str
  ok: bool
  reason: str
  seconds: float
  cost_usd: float = 0.0
  events: tuple[dict[str, Any], ...] = ()
  check: dict[str, Any] | None = None   # the checker's report (CheckReport.to_json())


class EvolutionStore(abc.ABC):
  """Everything a run records. Methods that change several tables do it in one transaction."""

  # run metadata
  @abc.abstractmethod
  def get_meta(self, key: str) -> Any | None: ...
  @abc.abstractmethod
  def set_meta(self, key: str, value: Any) -> None: ...
  @abc.abstractmethod
  def log_event(self, kind: str, **payload: Any) -> None: ...
  @abc.abstractmethod
  def events(self, kind: str | None = None) -> list[dict[str, Any]]: ...

  # designs and results
  @abc.abstractmethod
  def add_seed(self, design: NewDesign) -> int: ...
  @abc.abstractmethod
  def designs(self) -> list[DesignRow]: ...
  @abc.abstractmethod
  def verifications(self) -> list[VerificationRow]: ...
  @abc.abstractmethod
  def sessions(self) -> list[dict[str, Any]]: ...
  @abc.abstractmethod
  def spend_usd(self) -> float: ...
  @abc.abstractmethod
  def record_call(self, job_id: int, call: dict[str, Any]) -> None: ...
  @abc.abstractmethod
  def calls(self) -> list[dict[str, Any]]: ...
  @abc.abstractmethod
  def session_estimate_usd(self) -> float: ...

  # the work queue
  @abc.abstractmethod
  def enqueue(self, kind: str, key: str, payload: dict[str, Any]) -> bool: ...
  @abc.abstractmethod
  def claim(self, kind: str, owner: str, lease_s: float) -> Job | None: ...
  @abc.abstractmethod
  def renew(self, job_id: int, owner: str, lease_s: float) -> bool: ...
  @abc.abstractmethod
  def release(self, job_id: int, owner: str) -> None: ...
  @abc.abstractmethod
  def fail(self, job_id: int, owner: str, error: str, max_attempts: int) -> bool: ...
  @abc.abstractmethod
  def reclaim(self, is_dead: Callable[[str], bool], max_attempts: int) -> int: ...
  @abc.abstractmethod
  def job_counts(self) -> dict[tuple[str, str], int]: ...
  @abc.abstractmethod
  def jobs(self, kind: str, states: tuple[str, ...]) -> list[Job]: ...

  # finishing jobs (atomically with the job's state)
  @abc.abstractmethod
  def finish_design_job(self, job: Job, owner: str, session: SessionRecord, design: NewDesign | None,
                        status: str, verify_rung: str | None) -> int | None: ...
  @abc.abstractmethod
  def finish_verify_job(self, job: Job, owner: str, design_id: int, rung: str, status: str,
                        results: dict[str, Any], run_dir: str, seconds: float) -> bool: ...

  # a lease on the whole run (one controller at a time)
  @abc.abstractmethod
  def acquire_run_lease(self, owner: str, lease_s: float, is_dead: Callable[[str], bool]) -> str | None: ...
  @abc.abstractmethod
  def release_run_lease(self, owner: str) -> None: ...


class SQLiteStore(EvolutionStore):
  """The embedded store: one SQLite file in WAL mode; one connection per thread."""

  def __init__(self, path: str | pathlib.Path, create: bool = True):
    self.path = pathlib.Path(path)
    if not self.path.exists() and not create:
      raise StoreError(f"no evolution store at {self.path}")
    self._local = threading.local()
    try:
      with self._transaction() as db:
        version = self._version(db)
        if version > SCHEMA_VERSION:
          raise StoreError(f"the store {self.path} has schema version {version}, newer than this genesys_jax "
                           f"understands ({SCHEMA_VERSION}); upgrade genesys_jax to read it")
        for v in range(version + 1, SCHEMA_VERSION + 1):
          for statement in MIGRATIONS[v].split(";"):
            if statement.strip():
              db.execute(statement)
          db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (json.dumps(v),))
    except sqlite3.DatabaseError as e:
      raise StoreError(f"{self.path} is not a readable evolution store ({e})") from e

  # ---- connections and transactions -------------------------------------------------------------

  def _db(self) -> sqlite3.Connection:
    db = getattr(self._local, "db", None)
    if db is None:
      db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
      db.execute("PRAGMA busy_timeout = 60000")
      mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
      if mode.lower() != "wal":
        raise StoreError(f"{self.path} cannot use write-ahead logging (journal mode {mode})")
      db.execute("PRAGMA synchronous = NORMAL")
      db.execute("PRAGMA foreign_keys = ON")
      self._local.db = db
    return db

  @contextlib.contextmanager
  def _transaction(self) -> Iterator[sqlite3.Connection]:
    """A write transaction taken at once (BEGIN IMMEDIATE), so readers never see half of a change."""
    db = self._db()
    db.execute("BEGIN IMMEDIATE")
    try:
      yield db
    except BaseException:
      db.execute("ROLLBACK")
      raise
    db.execute("COMMIT")

  @staticmethod
  def _version(db: sqlite3.Connection) -> int:
    if not db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone():
      if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise StoreError("the file holds tables but no genesys_jax metadata; it is not an evolution store")
      return 0
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return json.loads(row[0]) if row else 0

  def close(self) -> None:
    db = getattr(self._local, "db", None)
    if db is not None:
      db.close()
      self._local.db = None

  # ---- metadata and events ----------------------------------------------------------------------

  def get_meta(self, key: str) -> Any | None:
    row = self._db().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return json.loads(row[0]) if row else None

  def set_meta(self, key: str, value: Any) -> None:
    with self._transaction() as db:
      db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

  def log_event(self, kind: str, **payload: Any) -> None:
    with self._transaction() as db:
      db.execute("INSERT INTO events (time, kind, payload) VALUES (?, ?, ?)",
                 (time.time(), kind, json.dumps(payload, default=str)))

  def events(self, kind: str | None = None) -> list[dict[str, Any]]:
    rows = self._db().execute("SELECT time, kind, payload FROM events" + (" WHERE kind=?" if kind else "")
                              + " ORDER BY id", (kind,) if kind else ()).fetchall()
    return [{"time": t, "kind": k, **json.loads(p)} for t, k, p in rows]

  # ---- designs and results ----------------------------------------------------------------------

  def _insert_design(self, db: sqlite3.Connection, d: NewDesign, status: str) -> int:
    row = db.execute("SELECT id FROM designs WHERE content_hash=?", (d.content_hash,)).fetchone()
    if row:
      return row[0]
    duplicate_of = None
    if d.fingerprint and status == "implemented":
      same = db.execute("SELECT id FROM designs WHERE fingerprint=? AND status='implemented'",
                        (d.fingerprint,)).fetchone()
      if same:
        status, duplicate_of = "duplicate", same[0]
    cursor = db.execute(
        "INSERT INTO designs (name, content_hash, fingerprint, seed, operator, status, duplicate_of, tree, path,"
        " rationale, changed_units, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (d.name, d.content_hash, d.fingerprint, int(d.seed), d.operator, status, duplicate_of,
         json.dumps(d.tree), d.path, d.rationale, json.dumps(list(d.changed_units)), time.time()))
    design_id = cursor.lastrowid
    for parent in d.parents:
      db.execute("INSERT INTO lineage VALUES (?, ?, ?)", (design_id, parent, d.operator or "seed"))
    return design_id

  def add_seed(self, design: NewDesign) -> int:
    with self._transaction() as db:
      return self._insert_design(db, design, "implemented")

  def designs(self) -> list[DesignRow]:
    db = self._db()
    parents: dict[int, list[int]] = {}
    for child, parent in db.execute("SELECT child, parent FROM lineage ORDER BY rowid"):
      parents.setdefault(child, []).append(parent)
    rows = db.execute("SELECT id, name, content_hash, fingerprint, seed, operator, status, path, rationale,"
                      " changed_units, created FROM designs ORDER BY id").fetchall()
    return [DesignRow(i, n, h, f, bool(s), o, st, p, tuple(parents.get(i, ())), r, tuple(json.loads(cu)), c)
            for i, n, h, f, s, o, st, p, r, cu, c in rows]

  def tree(self, design_id: int) -> dict[str, Any]:
    return json.loads(self._db().execute("SELECT tree FROM designs WHERE id=?", (design_id,)).fetchone()[0])

  def verifications(self) -> list[VerificationRow]:
    rows = self._db().execute("SELECT design_id, rung, status, results, run_dir, seconds, created"
                              " FROM verifications ORDER BY id").fetchall()
    return [VerificationRow(d, r, s, json.loads(res), rd, sec, c) for d, r, s, res, rd, sec, c in rows]

  def sessions(self) -> list[dict[str, Any]]:
    rows = self._db().execute("SELECT s.id, s.design_id, s.designer, s.operator, s.ok, s.reason, s.cost_usd,"
                              " s.seconds, s.created, c.ok, c.report FROM sessions s"
                              " LEFT JOIN checks c ON c.session_id = s.id ORDER BY s.id").fetchall()
    return [{"id": i, "design_id": d, "designer": dz, "operator": o, "ok": bool(ok), "reason": r, "cost_usd": cost,
             "seconds": sec, "created": cr, "check_ok": None if cok is None else bool(cok),
             "check": json.loads(rep) if rep else None}
            for i, d, dz, o, ok, r, cost, sec, cr, cok, rep in rows]

  def session_events(self, session_id: int) -> list[dict[str, Any]]:
    return json.loads(self._db().execute("SELECT events FROM sessions WHERE id=?", (session_id,)).fetchone()[0])

  def spend_usd(self) -> float:
    """Dollars of every LLM call recorded, sessions that never finished included."""
    return float(self._db().execute("SELECT coalesce(sum(cost_usd), 0) FROM calls").fetchone()[0])

  def record_call(self, job_id: int, call: dict[str, Any]) -> None:
    """Records one LLM call (a CallRecord's JSON) of a design job as soon as it is made."""
    with self._transaction() as db:
      db.execute("INSERT INTO calls (job_id, role, model, design, ok, error, input_tokens, output_tokens, cost_usd,"
                 " seconds, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (job_id, call["role"], call["model"], call.get("design_id"), int(call["ok"]), call.get("error"),
                  call["input_tokens"], call["output_tokens"], call["cost_usd"], call["seconds"], time.time()))

  def calls(self) -> list[dict[str, Any]]:
    """Every recorded LLM call: role, model, design, ok, tokens and cost (to rebuild a run's ledger)."""
    rows = self._db().execute("SELECT role, model, design, ok, input_tokens, output_tokens, cost_usd FROM calls"
                              " ORDER BY id").fetchall()
    return [{"role": r, "model": m, "design_id": d, "ok": bool(ok), "input_tokens": i, "output_tokens": o,
             "cost_usd": c} for r, m, d, ok, i, o, c in rows]

  def session_estimate_usd(self) -> float:
    """What a recorded session's calls cost on average (0 before any session has made a call)."""
    return float(self._db().execute("SELECT coalesce(avg(total), 0) FROM (SELECT sum(cost_usd) AS total FROM calls"
                                    " WHERE session_id IS NOT NULL GROUP BY session_id)").fetchone()[0])

  # ---- the work queue ---------------------------------------------------------------------------

  def enqueue(self, kind: str, key: str, payload: dict[str, Any]) -> bool:
    """Queues a job unless one with the same key exists; whether it was queued."""
    with self._transaction() as db:
      return self._enqueue(db, kind, key, payload)

  @staticmethod
  def _enqueue(db: sqlite3.Connection, kind: str, key: str, payload: dict[str, Any]) -> bool:
    cursor = db.execute("INSERT OR IGNORE INTO jobs (kind, key, payload, state, created) VALUES (?, ?, ?, 'pending', ?)",
                        (kind, key, json.dumps(payload), time.time()))
    return cursor.rowcount == 1

  def claim(self, kind: str, owner: str, lease_s: float) -> Job | None:
    """Leases the oldest pending job of `kind` to `owner`, or returns None."""
    with self._transaction() as db:
      row = db.execute("SELECT id, key, payload, attempts FROM jobs WHERE kind=? AND state='pending'"
                       " ORDER BY id LIMIT 1", (kind,)).fetchone()
      if row is None:
        return None
      db.execute("UPDATE jobs SET state='leased', owner=?, lease_expires=?, attempts=attempts+1 WHERE id=?",
                 (owner, time.time() + lease_s, row[0]))
    return Job(row[0], kind, row[1], json.loads(row[2]), row[3] + 1)

  def renew(self, job_id: int, owner: str, lease_s: float) -> bool:
    """Extends a lease the owner still holds; False when it was lost (the job went to someone else)."""
    with self._transaction() as db:
      cursor = db.execute("UPDATE jobs SET lease_expires=? WHERE id=? AND owner=? AND state='leased'",
                          (time.time() + lease_s, job_id, owner))
      return cursor.rowcount == 1

  def release(self, job_id: int, owner: str) -> None:
    """Gives a leased job back unfinished (a clean stop): it does not count as a failed attempt."""
    with self._transaction() as db:
      db.execute("UPDATE jobs SET state='pending', owner=NULL, lease_expires=NULL, attempts=max(attempts-1, 0)"
                 " WHERE id=? AND owner=? AND state='leased'", (job_id, owner))

  def fail(self, job_id: int, owner: str, error: str, max_attempts: int) -> bool:
    """Records a failed attempt; the job is retried until `max_attempts`. True when it is given up."""
    with self._transaction() as db:
      row = db.execute("SELECT attempts FROM jobs WHERE id=? AND owner=? AND state='leased'",
                       (job_id, owner)).fetchone()
      if row is None:
        return False
      final = row[0] >= max_attempts
      db.execute("UPDATE jobs SET state=?, owner=NULL, lease_expires=NULL, error=?, finished=? WHERE id=?",
                 ("failed" if final else "pending", error, time.time() if final else None, job_id))
      return final

  def reclaim(self, is_dead: Callable[[str], bool], max_attempts: int) -> int:
    """Puts back every leased job whose lease expired or whose owner is known dead; how many.

    A job whose worker died `max_attempts` times is given up and recorded as failed (a verification
    with status 'error', or a failed design session), so it counts against the budget like any result.
    """
    with self._transaction() as db:
      rows = db.execute("SELECT id, kind, payload, owner, lease_expires, attempts FROM jobs WHERE state='leased'").fetchall()
      now = time.time()
      stale = [(i, k, json.loads(p), a) for i, k, p, owner, expires, a in rows if expires < now or is_dead(owner)]
      for job_id, kind, payload, attempts in stale:
        if attempts < max_attempts:
          db.execute("UPDATE jobs SET state='pending', owner=NULL, lease_expires=NULL WHERE id=?", (job_id,))
          continue
        message = f"its worker died or stopped answering {attempts} times"
        db.execute("UPDATE jobs SET state='failed', owner=NULL, error=?, finished=? WHERE id=?", (message, now, job_id))
        if kind == "verify":
          db.execute("INSERT OR IGNORE INTO verifications (design_id, rung, status, results, run_dir, seconds, created)"
                     " VALUES (?, ?, 'error', ?, '', 0, ?)", (payload["design_id"], payload["rung"],
                                                             json.dumps({"status": "error", "message": message}), now))
        else:
          cursor = db.execute("INSERT INTO sessions (job_id, designer, operator, ok, reason, seconds, created)"
                              " VALUES (?, 'error', ?, 0, ?, 0, ?)", (job_id, payload.get("operator", ""), message, now))
          self._attach_calls(db, job_id, cursor.lastrowid, ())
      return len(stale)

  def job_counts(self) -> dict[tuple[str, str], int]:
    return {(k, s): n for k, s, n in self._db().execute("SELECT kind, state, count(*) FROM jobs GROUP BY kind, state")}

  def jobs(self, kind: str, states: tuple[str, ...]) -> list[Job]:
    marks = ",".join("?" * len(states))
    rows = self._db().execute(f"SELECT id, key, payload, attempts FROM jobs WHERE kind=? AND state IN ({marks})"
                              " ORDER BY id", (kind, *states)).fetchall()
    return [Job(i, kind, k, json.loads(p), a) for i, k, p, a in rows]

  # ---- finishing jobs ---------------------------------------------------------------------------

  @staticmethod
  def _holds(db: sqlite3.Connection, job: Job, owner: str) -> bool:
    return db.execute("SELECT 1 FROM jobs WHERE id=? AND owner=? AND state='leased'", (job.id, owner)).fetchone() is not None

  @staticmethod
  def _attach_calls(db: sqlite3.Connection, job_id: int, session_id: int, events: tuple[dict[str, Any], ...]) -> None:
    """Gives the job's calls to its session: those recorded as they were made (every attempt of the job),
    or, when none were, the calls among the session's events. The session's cost is theirs."""
    attached = db.execute("UPDATE calls SET session_id=? WHERE job_id=? AND session_id IS NULL",
                          (session_id, job_id)).rowcount
    if not attached:
      for e in events:
        if e.get("kind") == "call":
          db.execute("INSERT INTO calls (job_id, session_id, role, model, design, ok, error, input_tokens,"
                     " output_tokens, cost_usd, seconds, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (job_id, session_id, e["role"], e["model"], e.get("design_id"), int(e["ok"]), e.get("error"),
                      e["input_tokens"], e["output_tokens"], e["cost_usd"], e["seconds"], time.time()))
    db.execute("UPDATE sessions SET cost_usd=(SELECT coalesce(sum(cost_usd), 0) FROM calls WHERE session_id=?)"
               " WHERE id=?", (session_id, session_id))

  def finish_design_job(self, job: Job, owner: str, session: SessionRecord, design: NewDesign | None,
                        status: str, verify_rung: str | None) -> int | None:
    """Records a design session, its design (status implemented or rejected; a functional duplicate is
    marked so), its check and LLM calls, queues the design's first verification, and closes the job, all
    at once. Returns the design's id (None when there is none, or when the lease was lost)."""
    with self._transaction() as db:
      if not self._holds(db, job, owner):
        return None
      design_id = self._insert_design(db, design, status) if design is not None else None
      cursor = db.execute(
          "INSERT INTO sessions (job_id, design_id, designer, operator, ok, reason, cost_usd, events, seconds, created)"
          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          (job.id, design_id, session.designer, session.operator, int(session.ok), session.reason, session.cost_usd,
           json.dumps(list(session.events), default=str), session.seconds, time.time()))
      session_id = cursor.lastrowid
      self._attach_calls(db, job.id, session_id, session.events)
      if session.check is not None:
        db.execute("INSERT INTO checks (session_id, design_id, ok, report, seconds) VALUES (?, ?, ?, ?, ?)",
                   (session_id, design_id, int(session.check["ok"]), json.dumps(session.check, default=str),
                    float(session.check.get("seconds", {}).get("sandbox_total", 0.0))))
      if design_id is not None and verify_rung is not None:
        final = db.execute("SELECT status FROM designs WHERE id=?", (design_id,)).fetchone()[0]
        if final == "implemented":
          self._enqueue(db, "verify", f"verify:{design_id}:{verify_rung}", {"design_id": design_id, "rung": verify_rung})
      db.execute("UPDATE jobs SET state='done', owner=NULL, finished=? WHERE id=?", (time.time(), job.id))
      return design_id

  def finish_verify_job(self, job: Job, owner: str, design_id: int, rung: str, status: str,
                        results: dict[str, Any], run_dir: str, seconds: float) -> bool:
    """Records a verification and closes its job at once; False when the lease was lost (nothing recorded)."""
    with self._transaction() as db:
      if not self._holds(db, job, owner):
        return False
      db.execute("INSERT OR IGNORE INTO verifications (design_id, rung, status, results, run_dir, seconds, created)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (design_id, rung, status, json.dumps(results, default=str), run_dir, seconds, time.time()))
      db.execute("UPDATE jobs SET state='done', owner=NULL, finished=? WHERE id=?", (time.time(), job.id))
      return True

  # ---- the run's lease --------------------------------------------------------------------------

  def acquire_run_lease(self, owner: str, lease_s: float, is_dead: Callable[[str], bool]) -> str | None:
    """Takes or renews the controller's lease; returns the live holder's name when someone else has it."""
    with self._transaction() as db:
      row = db.execute("SELECT value FROM meta WHERE key='controller'").fetchone()
      if row:
        held = json.loads(row[0])
        if held["owner"] != owner and held["expires"] > time.time() and not is_dead(held["owner"]):
          return held["owner"]
      db.execute("INSERT OR REPLACE INTO meta VALUES ('controller', ?)",
                 (json.dumps({"owner": owner, "expires": time.time() + lease_s}),))
      return None

  def release_run_lease(self, owner: str) -> None:
    with self._transaction() as db:
      row = db.execute("SELECT value FROM meta WHERE key='controller'").fetchone()
      if row and json.loads(row[0])["owner"] == owner:
        db.execute("DELETE FROM meta WHERE key='controller'")
