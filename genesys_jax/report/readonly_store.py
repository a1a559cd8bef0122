"""The evolution store opened read-only, so a report can be written while the run goes on (SQLite
in the run directory, or the PostgreSQL database it records)."""

from __future__ import annotations

import pathlib
import sqlite3
import threading

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
      version = self._version(self._db())
    except sqlite3.DatabaseError as e:
      raise StoreError(f"{self.path} is not a readable evolution store ({e})") from e
    if version == 0:
      raise StoreError(f"{self.path} holds no genesys_jax metadata; it is not an evolution store")
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


def open_read_only(workdir: pathlib.Path) -> EvolutionStore:
  """The store of the run in `workdir` opened for reading only; it offers `snapshot()`."""
  url = recorded_url(workdir)
  if not url:
    return ReadOnlyStore(layout.store_path(workdir))
  from genesys_jax.evolve.postgres_store import PostgresStore  # pylint: disable=import-outside-toplevel
  return PostgresStore(url, read_only=True)
