"""A throwaway PostgreSQL server for the tests: initdb into a temporary folder, listening only on a Unix
socket in that folder (no TCP port), with fsync off; one per pytest-xdist worker, a fresh database per test.

PostgreSQL refuses to run as root; as root the server runs as the `postgres` user the Debian package made.
Where no PostgreSQL is installed (`apt-get install postgresql`), the tests that need it are skipped.
"""

from __future__ import annotations

import glob
import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator

import pytest


def _bin(name: str) -> str | None:
  found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
  return found if isinstance(found, str) else (found[-1] if found else None)


def _as_server_user(argv: list[str]) -> list[str]:
  if os.geteuid() != 0:
    return argv
  return ["runuser", "-u", "postgres", "--", *argv]


class Server:
  """A running server: `url(database)` names one of its databases, `createdb` makes a fresh one."""

  def __init__(self, folder: pathlib.Path):
    self.folder, self.data = folder, folder / "data"
    self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

  def url(self, database: str) -> str:
    return f"postgresql:///{database}?host={self.folder}&user={self.user}"

  def sql(self, statement: str, database: str = "postgres") -> None:
    import psycopg  # pylint: disable=import-outside-toplevel
    with psycopg.connect(self.url(database), autocommit=True) as conn:
      conn.execute(statement)

  def createdb(self) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    self.sql(f"CREATE DATABASE {name}")
    return self.url(name)


def start_server(parent: str | None = None) -> Server:
  """Starts a server in a new temporary folder under `parent` (default: the temporary directory), stopped by
  `stop_server`; pytest.skip without PostgreSQL."""
  initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
  if initdb is None or pg_ctl is None:
    pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
  folder = pathlib.Path(tempfile.mkdtemp(prefix="genesys_jax_pg_", dir=parent))
  folder.chmod(0o755)
  server = Server(folder)
  server.data.mkdir()
  if os.geteuid() == 0:
    shutil.chown(folder, "postgres")
    shutil.chown(server.data, "postgres")
  subprocess.run(_as_server_user([initdb, "-D", str(server.data), "--auth=trust", "--no-sync", "-E", "UTF8",
                                  "--locale=C.UTF-8"]), check=True, capture_output=True, text=True)
  options = f"-c listen_addresses='' -c unix_socket_directories={folder} -c fsync=off -c full_page_writes=off"
  subprocess.run(_as_server_user([pg_ctl, "-D", str(server.data), "-o", options, "-l", str(folder / "log"), "-w",
                                  "start"]), check=True, capture_output=True, text=True)
  return server


def stop_server(server: Server) -> None:
  subprocess.run(_as_server_user([_bin("pg_ctl"), "-D", str(server.data), "-m", "immediate", "stop"]),
                 capture_output=True)
  shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
  server = start_server()
  yield server
  stop_server(server)


@pytest.fixture
def postgres_url(postgres_server: Server) -> str:
  """The URL of a new, empty database on the suite's throwaway server."""
  return postgres_server.createdb()
