"""Where a run's store is: `store.sqlite` in the run directory, or a PostgreSQL database named by
`evolve.store_url`, which the run directory then records in `store.url` so that every command given
only the directory (worker, report, sweep) finds it."""

from __future__ import annotations

import pathlib
import re
import urllib.parse

from genesys_jax.evolve import layout
from genesys_jax.files import write_text_atomic
from genesys_jax.evolve.store import EvolutionStore, StoreError

SCHEMES = ("postgresql", "postgres")


def check_store_url(url: str) -> None:
  """ValueError (one sentence) for a URL that names no usable store; '' (SQLite in the run directory) is fine."""
  if not url:
    return
  parts = urllib.parse.urlsplit(url)
  if parts.scheme not in SCHEMES:
    raise ValueError(f"the store URL {shown(url)!r} has an unknown scheme; use postgresql://USER@HOST/DATABASE, "
                     "or leave it empty for SQLite in the run directory")
  if parts.password is not None or "password" in urllib.parse.parse_qs(parts.query):
    raise ValueError(f"the store URL {shown(url)} holds a password, which would be recorded with the run; "
                     "put it in ~/.pgpass (or the file PGPASSFILE names) instead")


def shown(url: str) -> str:
  """`url` without any password (in its user part, its query, or a libpq keyword string), for messages."""
  password = urllib.parse.urlsplit(url).password
  if password is not None:
    url = url.replace(f":{password}@", "@", 1)
  url = re.sub(r"([?&])password=[^&]*&?", r"\1", url).rstrip("?&")
  return re.sub(r"\bpassword\s*=\s*\S+", "password=...", url)  # a libpq keyword string


def recorded_url(workdir: pathlib.Path) -> str:
  """The store URL the run directory records ('' for a run on SQLite, or none yet); StoreError when the
  file holds no usable URL."""
  pointer = workdir / layout.STORE_URL
  if not pointer.is_file():
    return ""
  url = pointer.read_text(errors="replace").strip()
  try:
    check_store_url(url)
  except ValueError as e:
    raise StoreError(f"{pointer} does not name the run's store: {e}") from e
  if not url:
    raise StoreError(f"{pointer} is empty; it should name the run's store (postgresql://...)")
  return url


def store_url(workdir: pathlib.Path, url: str = "") -> str:
  """The run's store URL: `url` when given, else the one `workdir` records ('' for SQLite); StoreError when
  `url` and the run directory disagree."""
  recorded = recorded_url(workdir)
  if url and recorded and url != recorded:
    raise StoreError(f"the run in {workdir} keeps its store at {recorded}, not {shown(url)}")
  if url and not recorded and layout.store_path(workdir).exists():
    raise StoreError(f"the run in {workdir} keeps its store in {layout.store_path(workdir)}, not at {shown(url)}; "
                     "use another --workdir for a run on a database server")
  return url or recorded


def has_store(workdir: pathlib.Path) -> bool:
  """Whether `workdir` holds a run (its SQLite store, or the URL of its database)."""
  return layout.store_path(workdir).is_file() or (workdir / layout.STORE_URL).is_file()


def open_store(workdir: pathlib.Path, url: str = "", create: bool = False) -> EvolutionStore:
  """The store of the run in `workdir` (see `store_url`); with `create`, made if new, with the run directory
  (nothing is written when the store cannot be opened; `record_store_url` then records a server's URL)."""
  url = store_url(workdir, url)
  try:
    check_store_url(url)  # a URL given here (a recorded one is checked already)
  except ValueError as e:
    raise StoreError(str(e)) from e
  if not url:
    from genesys_jax.evolve.sqlite_store import SQLiteStore  # pylint: disable=import-outside-toplevel
    if create:
      workdir.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(layout.store_path(workdir), create=create)
  from genesys_jax.evolve.postgres_store import PostgresStore  # pylint: disable=import-outside-toplevel
  store = PostgresStore(url, create=create)
  if create:
    workdir.mkdir(parents=True, exist_ok=True)
  return store


def record_store_url(workdir: pathlib.Path, url: str) -> None:
  """Records in `workdir` where its run's store is, once the run's config is in it (workers started on
  the directory's word then find a run they can load)."""
  if url and not recorded_url(workdir):
    write_text_atomic(workdir / layout.STORE_URL, url + "\n")

