"""The evolution store opened read-only, so a report can be written while the run goes on (SQLite
in the run directory, or the PostgreSQL database it records)."""

from __future__ import annotations

import contextlib
import json
import pathlib
import sqlite3
import threading
from collections.abc import Iterator

from genesys_jax.evolve import layout
from genesys_jax.evolve.sqlite_store import SQLiteStore
from genesys_jax.evolve.store import SCHEMA_VERSION, EvolutionStore, StoreError
from genesys_jax.evolve.store_location import recorded_url


class ReadOnlyStore(SQLiteStore):
  """A `SQLiteStore` whose connections are opened with `mode=ro`: its read methods work, writes fail.

  It never creates, migrates or locks the store for writing; a store of another schema version is refused.
  """

  def __init__(self, path: str | pathlib.Path):
    self.path = pathlib.Path(path)
    self._local = threading.local()
    if not self.path.is_file():
      raise StoreError(f"no evolution store at {self.path}")
    try:
      version = self._schema_version()
    except sqlite3.DatabaseError as e:
      raise StoreError(f"{self.path} is not a readable evolution store ({e})") from e
    if version != SCHEMA_VERSION:
      raise StoreError(f"the store {self.path} has schema version {version} and this genesys_jax reads version "
                       f"{SCHEMA_VERSION}; open the run with the genesys_jax that wrote it")

  def _db(self) -> sqlite3.Connection:
    db = getattr(self._local, "db", None)
    if db is None:
      db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=60.0)
      db.execute("PRAGMA busy_timeout = 60000")
      self._local.db = db
    return db

  @contextlib.contextmanager
  def snapshot(self) -> Iterator[None]:
    """Reads inside see the store as it was at the first one, even while the run writes."""
    db = self._db()
    db.execute("BEGIN")
    try:
      yield
    finally:
      db.execute("COMMIT")

  def _schema_version(self) -> int:
    db = self._db()
    if not db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone():
      raise StoreError(f"{self.path} holds no genesys_jax metadata; it is not an evolution store")
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return json.loads(row[0]) if row else 0


def open_read_only(workdir: pathlib.Path) -> EvolutionStore:
  """The store of the run in `workdir` opened for reading only; it offers `snapshot()`."""
  url = recorded_url(workdir)
  if not url:
    return ReadOnlyStore(layout.store_path(workdir))
  from genesys_jax.evolve.postgres_store import PostgresStore  # pylint: disable=import-outside-toplevel
  return PostgresStore(url, read_only=True)
