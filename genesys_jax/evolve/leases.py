"""Who holds a lease, whether that holder is still alive, and a heartbeat that keeps a lease renewed."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable


def owner_name(role: str) -> str:
  """A lease holder's name: host, process id, role and a random tag (pids are reused)."""
  return f"{socket.gethostname()}:{os.getpid()}:{role}:{uuid.uuid4().hex[:8]}"


def is_dead(owner: str | None) -> bool:
  """True when `owner` ran on this host in a process that no longer exists (other hosts: unknown, False)."""
  if not owner:
    return True
  host, pid, *_ = owner.split(":") + [""]
  if host != socket.gethostname() or not pid.isdigit():
    return False
  try:
    os.kill(int(pid), 0)
  except ProcessLookupError:
    return True
  except PermissionError:
    return False
  return _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0] == "Z"
  except (OSError, IndexError):
    return False


_MAX_ERRORS = 3


class Heartbeat:
  """Calls `renew` every `every_s` seconds on a daemon thread; `lost` is set when a renewal fails, or
  raises (a dropped connection to the store) three times in a row."""

  def __init__(self, renew: Callable[[], bool], every_s: float):
    self.lost = threading.Event()
    self._renew, self._every_s = renew, every_s
    self._stopped = threading.Event()
    self._thread = threading.Thread(target=self._run, daemon=True)

  def _run(self) -> None:
    errors = 0
    while not self._stopped.wait(self._every_s):
      try:
        renewed, errors = self._renew(), 0
      except Exception:  # pylint: disable=broad-except  (the store is unreachable: try the next beat)
        errors += 1
        renewed = errors < _MAX_ERRORS
      if not renewed:
        self.lost.set()
        return

  def __enter__(self) -> Heartbeat:
    self._thread.start()
    return self

  def __exit__(self, *exc) -> None:
    self._stopped.set()
    self._thread.join()
