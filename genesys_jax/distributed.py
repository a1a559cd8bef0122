"""Multi-host start-up and agreement: `jax.distributed.initialize` when the process is one of several
hosts, and decisions that every process must take together."""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.experimental import multihost_utils

_MULTI_HOST_SIGNS = ("JAX_COORDINATOR_ADDRESS", "MEGASCALE_COORDINATOR_ADDRESS")
NUM_PROCESSES_ENV, PROCESS_ID_ENV = "GENESYS_JAX_NUM_PROCESSES", "GENESYS_JAX_PROCESS_ID"
"""Where no cluster tells JAX (TPU slices, SLURM, MPI, Kubernetes do), these two and
JAX_COORDINATOR_ADDRESS (HOST:PORT of process 0) say how many processes there are and which this is."""
HEARTBEAT_TIMEOUT_ENV = "GENESYS_JAX_HEARTBEAT_TIMEOUT_S"
"""Seconds after which the processes give up on one that stopped answering (JAX's default, 100, if unset)."""


def is_multi_host_launch() -> bool:
  """True on a pod slice with several workers or when a coordinator address is set."""
  if any(os.environ.get(v) for v in _MULTI_HOST_SIGNS) or os.environ.get("GENESYS_JAX_DISTRIBUTED") == "1":
    return True
  if int(os.environ.get(NUM_PROCESSES_ENV) or 1) > 1:
    return True
  return len([h for h in os.environ.get("TPU_WORKER_HOSTNAMES", "").split(",") if h]) > 1


def initialize_if_multi_host() -> None:
  """Joins the other hosts (JAX finds the coordinator from the environment on TPU, SLURM and the like;
  elsewhere from JAX_COORDINATOR_ADDRESS with NUM_PROCESSES_ENV and PROCESS_ID_ENV)."""
  if not is_multi_host_launch():
    return
  options = {"heartbeat_timeout_seconds": int(os.environ[HEARTBEAT_TIMEOUT_ENV])} if os.environ.get(
      HEARTBEAT_TIMEOUT_ENV) else {}
  if os.environ.get(NUM_PROCESSES_ENV):
    options.update(num_processes=int(os.environ[NUM_PROCESSES_ENV]), process_id=int(os.environ[PROCESS_ID_ENV]))
  jax.distributed.initialize(**options)


def any_process(flag: bool) -> bool:
  """Whether `flag` holds in any process; every process must ask at the same point of the program (a
  stop that one host sees is then taken by all at the same step, so none waits in a collective)."""
  if jax.process_count() == 1:
    return flag
  return bool(np.any(multihost_utils.process_allgather(np.array([flag], dtype=np.int32))))
