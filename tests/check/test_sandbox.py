"""The sandbox itself, independent of vetting: no secrets, no writes outside, no network, no leftovers."""

import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from genesys_jax.check.sandbox import Limits, bubblewrap_works, run_sandboxed

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


@needs_bwrap
def test_no_process_left_running(tmp_path):
  tag = f"genesys-linger-{os.getpid()}-{time.time_ns()}"
  result = _python(f"""
      import subprocess
      subprocess.Popen(['sh', '-c', 'exec -a {tag} sleep 300'], start_new_session=True)
      print('spawned')
      """, tmp_path)
  assert "spawned" in result.stdout
  time.sleep(0.5)
  found = subprocess.run(["pgrep", "-f", tag], capture_output=True, text=True)
  assert found.stdout.strip() == "", f"a sandboxed process survived: {found.stdout}"
