"""The paper's run (configs/paper.py) on a TPU pod slice: FSDP over every chip of every host.

    gcloud compute tpus tpu-vm ssh $TPU --zone $ZONE --worker=all --command "cd genesys_jax && \
        pip install -e '.[tpu]' && GEMINI_API_KEY=... python -m genesys_jax.main \
        --config configs/tpu.py --workdir /mnt/shared/runs/tpu \
        --config.verify.data.tfds_name=smollm_corpus --config.verify.data.tfds_data_dir=/mnt/shared/tfds \
        --config.verify.data.tokenizer_model=/mnt/shared/spm32k.model \
        --config.verify.eval.tfds_data_dir=/mnt/shared/tfds"

Every worker runs the same command; `genesys_jax.distributed` calls `jax.distributed.initialize` when
it sees several workers, and the mesh then spans all chips of the slice. The work directory, corpus,
tasks and tokenizer must be at the same path on every worker (a shared mount such as Filestore). Takes
paper.py's variants (`configs/tpu.py:offline`) and its data preparation steps.

The 350M rung trains 256 rows of 2048 tokens a step without gradient accumulation, about 15 GiB of
memory a row (XLA's analysis on a GPU), so a chip's share fits only on a slice of many chips; on a
smaller one the compile gate records `does_not_fit` before anything is allocated.
"""

import pathlib
import runpy

import ml_collections

_PAPER = runpy.run_path(str(pathlib.Path(__file__).with_name("paper.py")))


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = _PAPER["get_config"](arg)
  config.verify.mesh.data = 1
  config.verify.mesh.fsdp = -1                # every chip of the slice, all hosts (tensor stays 1)
  return config
