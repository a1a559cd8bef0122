"""The sandbox itself, independent of vetting: no secrets, no writes outside, no network, no leftovers."""

import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

from genesys_jax.check import sandbox
from genesys_jax.check.sandbox import Limits, bubblewrap_works, python_module, run_sandboxed, verifier_env
from postgres_server import start_server, stop_server

needs_bwrap = pytest.mark.skipif(not bubblewrap_works(), reason="bubblewrap is not usable on this machine")


def _python(code: str, workdir, **kw):
  return run_sandboxed([sys.executable, "-c", textwrap.dedent(code)], str(workdir), **kw)


def test_environment_is_scrubbed(tmp_path, monkeypatch):
  monkeypatch.setenv("GEMINI_API_KEY", "secret-value")
  result = _python("import os, json; print(json.dumps(dict(os.environ)))", tmp_path)
  assert result.returncode == 0, result.stderr
  assert "secret-value" not in result.stdout and "GEMINI_API_KEY" not in result.stdout
  assert "rlimits" in result.layers and "scrubbed-env" in result.layers


def test_wall_clock_timeout_kills_the_group(tmp_path):
  result = _python("while True: pass", tmp_path, limits=Limits(timeout_s=2))
  assert result.limit_hit == "wall-clock timeout of 2 s"
  assert result.seconds < 10


def test_memory_limit(tmp_path):
  result = _python("x = bytearray(3 * 2**30)", tmp_path, limits=Limits(memory_bytes=2**30))
  assert result.returncode != 0 and result.limit_hit == "memory limit of 1 GiB"


def test_file_size_limit(tmp_path):
  result = _python("open('big', 'wb').write(b'0' * 4 * 2**20)", tmp_path, limits=Limits(max_file_bytes=2**20))
  assert result.returncode != 0 and result.limit_hit == "file size limit of 1 MiB"


@needs_bwrap
def test_no_writes_outside_the_workdir(tmp_path):
  outside = tmp_path / "outside"
  outside.mkdir()
  inside = tmp_path / "work"
  inside.mkdir()
  result = _python(f"""
      for path in [{str(outside / 'marker')!r}, '/tmp/genesys_marker_should_not_exist', 'inside.txt']:
          try:
              open(path, 'w').write('x')
              print('wrote', path)
          except OSError as e:
              print('refused', path, type(e).__name__)
      """, inside)
  assert "bubblewrap" in result.layers[-1]
  assert not (outside / "marker").exists() and not os.path.exists("/tmp/genesys_marker_should_not_exist")
  assert "wrote inside.txt" in result.stdout and "refused" in result.stdout


@needs_bwrap
def test_no_network(tmp_path):
  server = socket.socket()
  server.bind(("127.0.0.1", 0))
  server.listen(1)
  port = server.getsockname()[1]
  result = _python(f"""
      import socket
      try:
          socket.create_connection(('127.0.0.1', {port}), timeout=2)
          print('connected')
      except OSError as e:
          print('refused', e)
      """, tmp_path)
  server.settimeout(0.5)
  with pytest.raises(socket.timeout):
    server.accept()
  server.close()
  assert "refused" in result.stdout


MODES = ["bubblewrap", "namespaces", "none"]


def _available(mode: str) -> None:
  if mode == "bubblewrap" and not bubblewrap_works():
    pytest.skip("bubblewrap is not usable on this machine")
  if mode == "namespaces" and os.geteuid() != 0:
    pytest.skip("namespaces without bubblewrap need root")


def _lingering(tag: str) -> str:
  return subprocess.run(["pgrep", "-f", tag], capture_output=True, text=True).stdout.strip()


@pytest.mark.parametrize("mode", MODES)
def test_no_process_left_running(tmp_path, mode):
  _available(mode)
  tag = f"299.{os.getpid()}{time.time_ns() % 10**6}"  # a unique `sleep` duration to look for
  result = _python(f"""
      import os, subprocess
      subprocess.Popen(['sleep', '{tag}'], start_new_session=True)
      if os.fork() == 0:  # a detached grandchild too
          os.setsid()
          subprocess.Popen(['sleep', '{tag}'])
          os._exit(0)
      print('spawned')
      """, tmp_path, mode=mode)
  assert "spawned" in result.stdout, result.stderr
  assert _lingering(tag) == "", f"a sandboxed process survived in mode {mode}"


@pytest.mark.parametrize("mode", MODES)
def test_timeout_with_a_detached_grandchild_holding_the_pipes(tmp_path, mode):
  _available(mode)
  tag = f"298.{os.getpid()}{time.time_ns() % 10**6}"
  start = time.perf_counter()
  result = _python(f"""
      import os, subprocess
      subprocess.Popen(['setsid', 'sleep', '{tag}'])  # inherits stdout and stderr
      while True:
          pass
      """, tmp_path, limits=Limits(timeout_s=3), mode=mode)
  assert result.limit_hit == "wall-clock timeout of 3 s"
  assert time.perf_counter() - start < 20
  assert _lingering(tag) == ""


def test_results_come_on_their_own_channel_and_output_is_capped(tmp_path):
  result = _python("""
      import os, sys
      fd = int(sys.argv[sys.argv.index('--result_fd') + 1])
      os.write(fd, b'{"done": true}\\n')
      sys.stdout.write('{"forged": true}\\n' * 2_000_000)
      """, tmp_path, result_fd=True)
  assert result.returncode == 0, result.stderr
  assert result.results == b'{"done": true}\n'
  assert len(result.stdout) <= 64 * 2**10


@pytest.mark.parametrize("mode", MODES)
def test_stdlib_names_in_the_workdir_shadow_nothing(tmp_path, mode):
  _available(mode)
  (tmp_path / "resource.py").write_text("raise SystemExit('shadowed')\n")
  (tmp_path / "json.py").write_text("raise SystemExit('shadowed')\n")
  result = run_sandboxed(python_module("json.tool", "--help"), str(tmp_path), mode=mode)
  assert result.returncode == 0 and "shadowed" not in result.stderr, result.stderr


@needs_bwrap
def test_readonly_directory_cannot_be_written(tmp_path):
  shared = tmp_path / "shared"
  shared.mkdir()
  (shared / "entry").write_text("trusted")
  work = tmp_path / "work"
  work.mkdir()
  result = _python(f"""
      try:
          open({str(shared / 'entry')!r}, 'w').write('poisoned')
      except OSError as e:
          print('refused', type(e).__name__)
      print(open({str(shared / 'entry')!r}).read())
      """, work, readonly=[str(shared)])
  assert "refused" in result.stdout and "trusted" in result.stdout
  assert (shared / "entry").read_text() == "trusted"


def test_verifier_env_holds_no_secret(monkeypatch):
  for name in ("GEMINI_API_KEY", "OPENAI_API_KEY", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD"):
    monkeypatch.setenv(name, "secret-value")
  monkeypatch.setenv("GENESYS_JAX_CACHE", "/somewhere")
  env = verifier_env({"CUDA_VISIBLE_DEVICES": "1"})
  assert "secret-value" not in env.values()
  assert env["GENESYS_JAX_CACHE"] == "/somewhere" and env["CUDA_VISIBLE_DEVICES"] == "1"


@needs_bwrap
def test_disk_quota_covers_all_files_together(tmp_path):
  result = _python("""
      for i in range(4):
          open(f'part{i}', 'wb').write(b'0' * 2**20)
          print('wrote', i)
      """, tmp_path, limits=Limits(disk_bytes=2 * 2**20, max_file_bytes=2 * 2**20))
  assert result.returncode != 0 and "No space left on device" in result.stderr
  assert "wrote 3" not in result.stdout and list(tmp_path.iterdir()) == []


def test_the_bubblewrap_probe_runs_without_the_callers_secrets(monkeypatch):
  monkeypatch.setenv("GEMINI_API_KEY", "probe-secret")
  monkeypatch.setattr(sandbox.shutil, "which", lambda name: "/usr/bin/bwrap")
  seen = []
  monkeypatch.setattr(sandbox.subprocess, "run", lambda cmd, **kw: seen.append(kw.get("env")) or
                      subprocess.CompletedProcess(cmd, 0))
  sandbox.bubblewrap_works.cache_clear()
  try:
    assert sandbox.bubblewrap_works()
  finally:
    sandbox.bubblewrap_works.cache_clear()
  assert seen and seen[0] is not None and "probe-secret" not in seen[0].values()


_REACH_THE_STORE = """
    import socket, sys
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(sys.argv[1])
        print("connected")
    except OSError as e:
        print("refused", type(e).__name__)
    try:
        print("password:", repr(open(sys.argv[2]).read()))
    except OSError as e:
        print("unreadable", type(e).__name__)
    """


@needs_bwrap
def test_the_store_is_out_of_reach(tmp_path, monkeypatch):
  """Sandboxed code can neither connect to a local PostgreSQL server's socket nor read libpq's password
  file; both are outside the private /tmp here, so only the masking hides them."""
  server = start_server(parent="/var/tmp")
  secrets = pathlib.Path(tempfile.mkdtemp(dir="/var/tmp"))
  try:
    passfile = secrets / "pgpass"
    passfile.write_text("*:*:*:*:hunter2\n")
    secrets.chmod(0o755)  # readable but for the masking
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    monkeypatch.setattr(sandbox, "STORE_SOCKET_DIRS", (str(server.folder),))
    argv = [sys.executable, "-c", textwrap.dedent(_REACH_THE_STORE), str(server.folder / ".s.PGSQL.5432"), str(passfile)]
    outside = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert "connected" in outside and "hunter2" in outside  # what the masking takes away
    inside = run_sandboxed(argv, str(tmp_path))
    assert inside.returncode == 0, inside.stderr
    assert "refused" in inside.stdout and "unreadable" in inside.stdout and "hunter2" not in inside.stdout, inside.stdout
  finally:
    stop_server(server)
    shutil.rmtree(secrets, ignore_errors=True)
