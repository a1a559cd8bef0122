"""Multi-host start-up: `jax.distributed.initialize` when the process is one of several hosts."""

from __future__ import annotations

import os

import jax

_MULTI_HOST_SIGNS = ("JAX_COORDINATOR_ADDRESS", "MEGASCALE_COORDINATOR_ADDRESS")


def is_multi_host_launch() -> bool:
  """True on a pod slice with several workers or when a coordinator address is set."""
  if any(os.environ.get(v) for v in _MULTI_HOST_SIGNS) or os.environ.get("GENESYS_JAX_DISTRIBUTED") == "1":
    return True
  return len([h for h in os.environ.get("TPU_WORKER_HOSTNAMES", "").split(",") if h]) > 1


def initialize_if_multi_host() -> None:
  """Joins the other hosts (JAX finds the coordinator from the environment on TPU and SLURM)."""
  if is_multi_host_launch():
    jax.distributed.initialize()
