"""The paper's run (configs/paper.py) on a TPU VM: FSDP over every chip of the host.

    gcloud compute tpus tpu-vm ssh $TPU --zone $ZONE --command "cd genesys_jax && \
        pip install -e '.[tpu]' && GEMINI_API_KEY=... python -m genesys_jax.main \
        --config configs/tpu.py --workdir runs/tpu \
        --config.verify.data.tfds_name=smollm_corpus --config.verify.data.tfds_data_dir=$HOME/tfds \
        --config.verify.data.tokenizer_model=$HOME/spm32k.model --config.verify.eval.tfds_data_dir=$HOME/tfds"

One host (a v4-8, v5litepod-8 or v6e-8 VM): its verifier process owns all the host's chips. Takes
paper.py's variants (`configs/tpu.py:offline`) and its data preparation steps.

`configs/tpu.py:slice` (combinable: `:offline,slice`) is a multi-host slice (e.g. v5litepod-32: 8 hosts of
4 chips): the controller starts no verifier; every host runs `python -m genesys_jax.evolve.worker`, and
the hosts verify each design together (evolve/slice_verifier.py) over one mesh of all the slice's chips,
FSDP over each host's 4 chips and data parallel across hosts. It needs the store on a PostgreSQL server
(`evolve.store_url`) and a run directory every host mounts; `launch/tpu_vm.sh` with WORKERS=N sets it up.

The 350M rung trains 256 rows of 2048 tokens a step, about 15 GiB of memory a row (XLA's analysis on
a GPU): the compile gate accumulates gradients over the largest micro-batch whose step fits a chip.
"""

import pathlib
import runpy

import ml_collections

_PAPER = runpy.run_path(str(pathlib.Path(__file__).with_name("paper.py")))


CHIPS_PER_HOST = 4
"""Chips on each host of a multi-host v4, v5e or v6e slice."""


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  variants = [v for v in (arg or "").split(",") if v]
  unknown = [v for v in variants if v not in (*_PAPER["VARIANTS"], "slice")]
  if unknown:
    raise ValueError(f"unknown config variant(s) {unknown} of the TPU config; choose from "
                     f"{', '.join((*_PAPER['VARIANTS'], 'slice'))} (comma-separated, e.g. configs/tpu.py:offline,slice)")
  config = _PAPER["get_config"](",".join(v for v in variants if v != "slice"))
  config.unlock()
  config.verify.mesh.data = 1
  config.verify.mesh.fsdp = -1                # every chip of the host (tensor stays 1)
  if "slice" in variants:
    config.evolve.workers.verifiers = 0       # every host runs a worker: the slice verifies together
    config.verify.mesh.data = -1              # across hosts
    config.verify.mesh.fsdp = CHIPS_PER_HOST  # within a host
  config.lock()
  return config


def get_sweep(arg: str | None = None) -> list[dict[str, object]]:
  """paper.py's sweep (design flow x selection) on this hardware."""
  return _PAPER["get_sweep"](arg)
