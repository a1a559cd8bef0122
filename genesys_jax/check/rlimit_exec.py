"""`python -m genesys_jax.check.rlimit_exec AS CPU NPROC FSIZE -- COMMAND...`: set rlimits, then exec.

The sandbox starts commands through this instead of a `preexec_fn`, which is unsafe to run in a
multithreaded parent such as a process that has loaded JAX.
"""

import os
import resource
import sys


def main(argv: list[str]) -> None:
  address_space, cpu, nproc, fsize, sep, *command = argv
  if sep != "--" or not command:
    sys.exit("usage: python -m genesys_jax.check.rlimit_exec AS CPU NPROC FSIZE -- COMMAND...")
  for rlimit, value in ((resource.RLIMIT_AS, address_space), (resource.RLIMIT_CPU, cpu),
                        (resource.RLIMIT_NPROC, nproc), (resource.RLIMIT_FSIZE, fsize), (resource.RLIMIT_CORE, "0")):
    resource.setrlimit(rlimit, (int(value), int(value)))
  os.execvp(command[0], command)


if __name__ == "__main__":
  main(sys.argv[1:])
