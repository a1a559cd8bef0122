"""The embedded evolution store: one SQLite file in WAL mode in the run directory, shared by the
threads and processes of one host (the file's locks do not reach across hosts)."""

from __future__ import annotations

import contextlib
import pathlib
import sqlite3
import threading
import time
from collections.abc import Iterator

from genesys_jax.evolve.store import EvolutionStore, StoreError


class SQLiteStore(EvolutionStore):
  """The store in one SQLite file; one connection per thread, write transactions taken at once."""

  def __init__(self, path: str | pathlib.Path, create: bool = True):
    self.path = pathlib.Path(path)
    if not self.path.exists() and not create:
      raise StoreError(f"no evolution store at {self.path}")
    self._local = threading.local()
    try:
      self._migrate()
    except sqlite3.DatabaseError as e:
      raise StoreError(f"{self.path} is not a readable evolution store ({e})") from e

  def describe(self) -> str:
    return str(self.path)

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
    """A write transaction taken at once (BEGIN IMMEDIATE): writers run one at a time, and readers never
    see half of a change."""
    db = self._db()
    db.execute("BEGIN IMMEDIATE")
    try:
      yield db
    except BaseException:
      db.execute("ROLLBACK")
      raise
    db.execute("COMMIT")

  def _now(self, db: sqlite3.Connection) -> float:
    del db  # every process that opens the file runs on this host, under its clock
    return time.time()

  def _tables(self, db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
