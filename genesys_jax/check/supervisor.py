"""`python -I supervisor.py SPEC_JSON -- COMMAND...`: confines COMMAND and outlives it.

Run by the sandbox (never imports the project, so a unit file named like a module cannot shadow it): sets
the resource limits, optionally enters new network, PID, IPC and UTS namespaces (root only, where
bubblewrap is missing; COMMAND then sees a /proc of its own namespace only), becomes the subreaper of
everything COMMAND starts, runs COMMAND, and when COMMAND exits or the sandbox sends SIGTERM, kills every
process left behind, detached ones included. Its exit status mirrors COMMAND's (a signal death as the same signal).
"""

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys

PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID = 0x00020000, 0x40000000, 0x20000000
CLONE_NEWIPC, CLONE_NEWUTS = 0x08000000, 0x04000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 16384, 1 << 18
RLIMITS = {"address_space": resource.RLIMIT_AS, "cpu_seconds": resource.RLIMIT_CPU,
           "max_processes": resource.RLIMIT_NPROC, "max_file_bytes": resource.RLIMIT_FSIZE}


def _libc() -> ctypes.CDLL:
  return ctypes.CDLL(None, use_errno=True)


def _descendants() -> list[int]:
  """Every live process below this one (as subreaper, orphans of our tree are re-parented to us)."""
  children: dict[int, list[int]] = {}
  for entry in os.listdir("/proc"):
    if not entry.isdigit():
      continue
    try:
      with open(f"/proc/{entry}/stat", "rb") as f:
        stat = f.read()
    except OSError:
      continue
    ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
    children.setdefault(ppid, []).append(int(entry))
  found, todo = [], [os.getpid()]
  while todo:
    for pid in children.get(todo.pop(), []):
      found.append(pid)
      todo.append(pid)
  return found


def _kill_tree() -> None:
  for _ in range(100):  # until nothing is left: a process may fork while we look
    pids = _descendants()
    if not pids:
      return
    for pid in pids:
      try:
        os.kill(pid, signal.SIGKILL)
      except ProcessLookupError:
        pass
    _reap()


def _reap() -> None:
  while True:
    try:
      pid, _ = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
      return
    if pid == 0:
      return


def main(argv: list[str]) -> None:
  spec_json, sep, *command = argv
  if sep != "--" or not command:
    sys.exit("usage: python -I supervisor.py SPEC_JSON -- COMMAND...")
  spec = json.loads(spec_json)
  libc = _libc()
  parent = os.getppid()
  libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)  # the sandbox's owner died: stop (see `stop`)
  if os.getppid() != parent:
    sys.exit("supervisor: the sandbox's owner is gone")
  libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
  namespaces = spec.get("namespaces", False)
  flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | (0 if spec.get("network") else CLONE_NEWNET)
  if namespaces and (libc.unshare(flags) != 0
                     or libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0):
    sys.exit(f"supervisor: entering namespaces failed (errno {ctypes.get_errno()})")
  for name, value in spec["rlimits"].items():
    resource.setrlimit(RLIMITS[name], (value, value))
  resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

  def in_child() -> None:  # dies with the supervisor; in a new PID namespace, mounts that namespace's /proc
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if namespaces and libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) != 0:
      os._exit(125)

  child = subprocess.Popen(command, pass_fds=spec.get("pass_fds", ()), preexec_fn=in_child)

  def stop(signum, frame):
    _kill_tree()
    os._exit(128 + signum)

  signal.signal(signal.SIGTERM, stop)
  returncode = child.wait()
  _kill_tree()
  if returncode < 0:  # die of the same signal, so the sandbox can tell which limit was hit
    signal.signal(-returncode, signal.SIG_DFL)
    os.kill(os.getpid(), -returncode)
  sys.exit(returncode)


if __name__ == "__main__":
  main(sys.argv[1:])
