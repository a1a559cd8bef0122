"""The evolution store: designs, lineage, design sessions and their LLM calls, check reports,
verifications per rung, the work queue with leases, and run events.

`EvolutionStore` holds the queries, written once; `SQLiteStore` (sqlite_store.py: one file in WAL mode
in the run directory, for one host's processes) and `PostgresStore` (postgres_store.py: a database
server, for processes on many hosts) supply the connection. The schema is versioned: opening an older
store migrates it, opening a newer one is refused.
"""

from __future__ import annotations

import abc
import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from genesys_jax.evolve.store_rows import DesignRow, Job, NewDesign, SessionRecord, VerificationRow
from genesys_jax.evolve.store_schema import MIGRATIONS, SCHEMA_VERSION


class StoreError(Exception):
  """A store that cannot be used: unreadable, from a newer version, or inconsistent; one sentence."""


RUN_LEASE = "controller"
"""The lease of the run's one controller."""


class EvolutionStore(abc.ABC):
  """Everything a run records, on a SQL database; methods that change several tables do it in one transaction.

  The queries are written once, in the SQL that SQLite and PostgreSQL share; a backend supplies the
  connection, its transactions, its clock (leases are in the database's time, since hosts' clocks differ)
  and the row locks that let several hosts' processes share the queue.
  """

  SNAPSHOT = "BEGIN"
  """Starts a read-only transaction that sees one state of the store throughout."""
  LOCK_ROW = ""
  """Appended to a SELECT of rows the transaction will change: locks them until it ends."""
  SKIP_LOCKED = ""
  """Appended to a SELECT of queue rows: locks them and skips rows another transaction holds."""

  # ---- what a backend provides ------------------------------------------------------------------

  @abc.abstractmethod
  def _db(self) -> Any:
    """This thread's connection: `execute(sql, params)` with `?` placeholders returns a cursor."""

  @abc.abstractmethod
  def _transaction(self) -> contextlib.AbstractContextManager[Any]:
    """A write transaction; yields the connection."""

  @abc.abstractmethod
  def _now(self, db: Any) -> float:
    """The database's clock, in seconds since the epoch."""

  @abc.abstractmethod
  def _tables(self, db: Any) -> set[str]:
    """The names of the open database's tables."""

  @abc.abstractmethod
  def describe(self) -> str:
    """Where the store is, for messages (never a password)."""

  def _serialize(self, db: Any, name: str) -> None:
    """Makes transactions that call this with the same `name` run one after another (a no-op where every
    write transaction already does)."""

  def _ddl(self, statement: str) -> str:
    """A migration statement in this backend's dialect."""
    return statement

  def _migrate(self) -> None:
    """Brings the schema to SCHEMA_VERSION, refusing a newer one."""
    with self._transaction() as db:
      self._serialize(db, "schema")
      version = self._version(db)
      if version > SCHEMA_VERSION:
        raise StoreError(f"the store {self.describe()} has schema version {version}, newer than this genesys_jax "
                         f"understands ({SCHEMA_VERSION}); upgrade genesys_jax to read it")
      for v in range(version + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[v].split(";"):
          if statement.strip():
            db.execute(self._ddl(statement))
        self._put_meta(db, "schema_version", v)

  def _version(self, db: Any) -> int:
    """The schema version of the open database (0 when empty); StoreError when it is not a store."""
    tables = self._tables(db)
    if "meta" not in tables:
      if tables:
        raise StoreError(f"{self.describe()} holds tables but no genesys_jax metadata; it is not an evolution store")
      return 0
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return json.loads(row[0]) if row else 0

  def close(self) -> None:
    """Closes this thread's connection (the next call opens another)."""
    db = getattr(self._local, "db", None)
    if db is not None:
      db.close()
      self._local.db = None

  @contextlib.contextmanager
  def snapshot(self) -> Iterator[None]:
    """Reads inside see the store as it was at the first one, even while the run writes."""
    db = self._db()
    db.execute(self.SNAPSHOT)
    try:
      yield
    finally:
      db.execute("COMMIT")

  def now(self) -> float:
    """The store's clock (the database server's), against which leases expire."""
    return self._now(self._db())

  # ---- metadata and events ----------------------------------------------------------------------

  @staticmethod
  def _put_meta(db: Any, key: str, value: Any) -> None:
    db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
               (key, json.dumps(value)))

  def get_meta(self, key: str) -> Any | None:
    row = self._db().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return json.loads(row[0]) if row else None

  def set_meta(self, key: str, value: Any) -> None:
    with self._transaction() as db:
      self._put_meta(db, key, value)

  def log_event(self, kind: str, **payload: Any) -> None:
    with self._transaction() as db:
      db.execute("INSERT INTO events (time, kind, payload) VALUES (?, ?, ?)",
                 (self._now(db), kind, json.dumps(payload, default=str)))

  def events(self, kind: str | None = None) -> list[dict[str, Any]]:
    rows = self._db().execute("SELECT time, kind, payload FROM events" + (" WHERE kind=?" if kind else "")
                              + " ORDER BY id", (kind,) if kind else ()).fetchall()
    return [{"time": t, "kind": k, **json.loads(p)} for t, k, p in rows]

  # ---- designs and results ----------------------------------------------------------------------

  def _insert_design(self, db: Any, d: NewDesign, status: str) -> int:
    self._serialize(db, "designs")  # the same tree or behaviour from two hosts at once is recorded once
    row = db.execute("SELECT id FROM designs WHERE content_hash=?", (d.content_hash,)).fetchone()
    if row:
      return row[0]
    duplicate_of = None
    if d.fingerprint and status == "implemented":
      same = db.execute("SELECT id FROM designs WHERE fingerprint=? AND status='implemented' ORDER BY id",
                        (d.fingerprint,)).fetchone()
      if same:
        status, duplicate_of = "duplicate", same[0]
    design_id = db.execute(
        "INSERT INTO designs (name, content_hash, fingerprint, seed, operator, status, duplicate_of, tree, path,"
        " rationale, changed_units, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (d.name, d.content_hash, d.fingerprint, int(d.seed), d.operator, status, duplicate_of,
         json.dumps(d.tree), d.path, d.rationale, json.dumps(list(d.changed_units)), self._now(db))).fetchone()[0]
    for parent in d.parents:
      db.execute("INSERT INTO lineage (child, parent, operator) VALUES (?, ?, ?)",
                 (design_id, parent, d.operator or "seed"))
    return design_id

  def add_seed(self, design: NewDesign) -> int:
    with self._transaction() as db:
      return self._insert_design(db, design, "implemented")

  def designs(self) -> list[DesignRow]:
    db = self._db()
    parents: dict[int, list[int]] = {}
    for child, parent in db.execute("SELECT child, parent FROM lineage ORDER BY id"):
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
      self._insert_call(db, job_id, None, call)

  def _insert_call(self, db: Any, job_id: int, session_id: int | None, call: dict[str, Any]) -> None:
    db.execute("INSERT INTO calls (job_id, session_id, role, model, design, ok, error, input_tokens, output_tokens,"
               " cost_usd, seconds, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (job_id, session_id, call["role"], call["model"], call.get("design_id"), int(call["ok"]),
                call.get("error"), call["input_tokens"], call["output_tokens"], call["cost_usd"], call["seconds"],
                self._now(db)))

  def calls(self) -> list[dict[str, Any]]:
    """Every recorded LLM call: role, model, design, ok, tokens and cost (to rebuild a run's ledger)."""
    rows = self._db().execute("SELECT role, model, design, ok, input_tokens, output_tokens, cost_usd FROM calls"
                              " ORDER BY id").fetchall()
    return [{"role": r, "model": m, "design_id": d, "ok": bool(ok), "input_tokens": i, "output_tokens": o,
             "cost_usd": c} for r, m, d, ok, i, o, c in rows]

  def session_estimate_usd(self) -> float:
    """What a recorded session's calls cost on average (0 before any session has made a call)."""
    return float(self._db().execute("SELECT coalesce(avg(total), 0) FROM (SELECT sum(cost_usd) AS total FROM calls"
                                    " WHERE session_id IS NOT NULL GROUP BY session_id) AS per_session").fetchone()[0])

  # ---- the work queue ---------------------------------------------------------------------------

  def enqueue(self, kind: str, key: str, payload: dict[str, Any]) -> bool:
    """Queues a job unless one with the same key exists; whether it was queued."""
    with self._transaction() as db:
      return self._enqueue(db, kind, key, payload)

  def _enqueue(self, db: Any, kind: str, key: str, payload: dict[str, Any]) -> bool:
    cursor = db.execute("INSERT INTO jobs (kind, key, payload, state, created) VALUES (?, ?, ?, 'pending', ?)"
                        " ON CONFLICT (key) DO NOTHING", (kind, key, json.dumps(payload), self._now(db)))
    return cursor.rowcount == 1

  def claim(self, kind: str, owner: str, lease_s: float) -> Job | None:
    """Leases the oldest pending job of `kind` to `owner`, or returns None."""
    with self._transaction() as db:
      row = db.execute("SELECT id, key, payload, attempts FROM jobs WHERE kind=? AND state='pending'"
                       " ORDER BY id LIMIT 1" + self.SKIP_LOCKED, (kind,)).fetchone()
      if row is None:
        return None
      db.execute("UPDATE jobs SET state='leased', owner=?, lease_expires=?, attempts=attempts+1 WHERE id=?",
                 (owner, self._now(db) + lease_s, row[0]))
    return Job(row[0], kind, row[1], json.loads(row[2]), row[3] + 1)

  def renew(self, job_id: int, owner: str, lease_s: float) -> bool:
    """Extends a lease the owner still holds; False when it was lost (the job went to someone else)."""
    with self._transaction() as db:
      cursor = db.execute("UPDATE jobs SET lease_expires=? WHERE id=? AND owner=? AND state='leased'",
                          (self._now(db) + lease_s, job_id, owner))
      return cursor.rowcount == 1

  def release(self, job_id: int, owner: str) -> None:
    """Gives a leased job back unfinished (a clean stop): it does not count as a failed attempt."""
    with self._transaction() as db:
      db.execute("UPDATE jobs SET state='pending', owner=NULL, lease_expires=NULL,"
                 " attempts=CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"
                 " WHERE id=? AND owner=? AND state='leased'", (job_id, owner))

  def fail(self, job_id: int, owner: str, error: str, max_attempts: int) -> bool:
    """Records a failed attempt; the job is retried until `max_attempts`. True when it is given up."""
    with self._transaction() as db:
      row = db.execute("SELECT attempts FROM jobs WHERE id=? AND owner=? AND state='leased'" + self.LOCK_ROW,
                       (job_id, owner)).fetchone()
      if row is None:
        return False
      final = row[0] >= max_attempts
      db.execute("UPDATE jobs SET state=?, owner=NULL, lease_expires=NULL, error=?, finished=? WHERE id=?",
                 ("failed" if final else "pending", error, self._now(db) if final else None, job_id))
      return final

  def reclaim(self, is_dead: Callable[[str], bool], max_attempts: int) -> int:
    """Puts back every leased job whose lease expired or whose owner is known dead; how many.

    A job whose worker died `max_attempts` times is given up and recorded as failed (a verification
    with status 'error', or a failed design session), so it counts against the budget like any result.
    """
    with self._transaction() as db:
      rows = db.execute("SELECT id, kind, payload, owner, lease_expires, attempts FROM jobs WHERE state='leased'"
                        + self.SKIP_LOCKED).fetchall()
      now = self._now(db)
      stale = [(i, k, json.loads(p), a) for i, k, p, owner, expires, a in rows if expires < now or is_dead(owner)]
      for job_id, kind, payload, attempts in stale:
        if attempts < max_attempts:
          db.execute("UPDATE jobs SET state='pending', owner=NULL, lease_expires=NULL WHERE id=?", (job_id,))
          continue
        message = f"its worker died or stopped answering {attempts} times"
        db.execute("UPDATE jobs SET state='failed', owner=NULL, error=?, finished=? WHERE id=?", (message, now, job_id))
        if kind == "verify":
          db.execute("INSERT INTO verifications (design_id, rung, status, results, run_dir, seconds, created)"
                     " VALUES (?, ?, 'error', ?, '', 0, ?) ON CONFLICT (design_id, rung) DO NOTHING",
                     (payload["design_id"], payload["rung"], json.dumps({"status": "error", "message": message}), now))
        else:
          session_id = db.execute("INSERT INTO sessions (job_id, designer, operator, ok, reason, seconds, created)"
                                  " VALUES (?, 'error', ?, 0, ?, 0, ?) RETURNING id",
                                  (job_id, payload.get("operator", ""), message, now)).fetchone()[0]
          self._attach_calls(db, job_id, session_id, ())
      return len(stale)

  def lease_holder(self, job_id: int) -> str | None:
    """Who holds the job's lease now (None when it is not leased)."""
    row = self._db().execute("SELECT owner FROM jobs WHERE id=? AND state='leased'", (job_id,)).fetchone()
    return row[0] if row else None

  def job_counts(self) -> dict[tuple[str, str], int]:
    return {(k, s): n for k, s, n in self._db().execute("SELECT kind, state, count(*) FROM jobs GROUP BY kind, state")}

  def jobs(self, kind: str, states: tuple[str, ...]) -> list[Job]:
    marks = ",".join("?" * len(states))
    rows = self._db().execute(f"SELECT id, key, payload, attempts FROM jobs WHERE kind=? AND state IN ({marks})"
                              " ORDER BY id", (kind, *states)).fetchall()
    return [Job(i, kind, k, json.loads(p), a) for i, k, p, a in rows]

  # ---- finishing jobs ---------------------------------------------------------------------------

  def _holds(self, db: Any, job: Job, owner: str) -> bool:
    """Whether `owner` still holds `job`; the job's row stays locked until the transaction ends."""
    return db.execute("SELECT 1 FROM jobs WHERE id=? AND owner=? AND state='leased'" + self.LOCK_ROW,
                      (job.id, owner)).fetchone() is not None

  def _attach_calls(self, db: Any, job_id: int, session_id: int, events: tuple[dict[str, Any], ...]) -> None:
    """Gives the job's calls to its session: those recorded as they were made (every attempt of the job),
    or, when none were, the calls among the session's events. The session's cost is theirs."""
    attached = db.execute("UPDATE calls SET session_id=? WHERE job_id=? AND session_id IS NULL",
                          (session_id, job_id)).rowcount
    if not attached:
      for e in events:
        if e.get("kind") == "call":
          self._insert_call(db, job_id, session_id, e)
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
      now = self._now(db)
      session_id = db.execute(
          "INSERT INTO sessions (job_id, design_id, designer, operator, ok, reason, cost_usd, events, seconds, created)"
          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
          (job.id, design_id, session.designer, session.operator, int(session.ok), session.reason, session.cost_usd,
           json.dumps(list(session.events), default=str), session.seconds, now)).fetchone()[0]
      self._attach_calls(db, job.id, session_id, session.events)
      if session.check is not None:
        db.execute("INSERT INTO checks (session_id, design_id, ok, report, seconds) VALUES (?, ?, ?, ?, ?)",
                   (session_id, design_id, int(session.check["ok"]), json.dumps(session.check, default=str),
                    float(session.check.get("seconds", {}).get("sandbox_total", 0.0))))
      if design_id is not None and verify_rung is not None:
        final = db.execute("SELECT status FROM designs WHERE id=?", (design_id,)).fetchone()[0]
        if final == "implemented":
          self._enqueue(db, "verify", f"verify:{design_id}:{verify_rung}", {"design_id": design_id, "rung": verify_rung})
      db.execute("UPDATE jobs SET state='done', owner=NULL, finished=? WHERE id=?", (now, job.id))
      return design_id

  def finish_verify_job(self, job: Job, owner: str, design_id: int, rung: str, status: str,
                        results: dict[str, Any], run_dir: str, seconds: float) -> bool:
    """Records a verification and closes its job at once; False when the lease was lost (nothing recorded)."""
    with self._transaction() as db:
      if not self._holds(db, job, owner):
        return False
      now = self._now(db)
      db.execute("INSERT INTO verifications (design_id, rung, status, results, run_dir, seconds, created)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (design_id, rung) DO NOTHING",
                 (design_id, rung, status, json.dumps(results, default=str), run_dir, seconds, now))
      db.execute("UPDATE jobs SET state='done', owner=NULL, finished=? WHERE id=?", (now, job.id))
      return True

  # ---- the run's lease --------------------------------------------------------------------------

  def acquire_lease(self, key: str, owner: str, lease_s: float, is_dead: Callable[[str], bool]) -> str | None:
    """Takes or renews the lease `key` (a place only one process may hold: "controller", a slice's host);
    returns the live holder's name when someone else has it."""
    with self._transaction() as db:
      self._serialize(db, f"lease:{key}")
      row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
      now = self._now(db)
      if row:
        held = json.loads(row[0])
        if held["owner"] != owner and held["expires"] > now and not is_dead(held["owner"]):
          return held["owner"]
      self._put_meta(db, key, {"owner": owner, "expires": now + lease_s, "renewed": now})
      return None

  def release_lease(self, key: str, owner: str) -> None:
    with self._transaction() as db:
      self._serialize(db, f"lease:{key}")
      row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
      if row and json.loads(row[0])["owner"] == owner:
        db.execute("DELETE FROM meta WHERE key=?", (key,))
