"""The paper's run (configs/paper.py) on a TPU VM: FSDP over every chip of the host.

    gcloud compute tpus tpu-vm ssh $TPU --zone $ZONE --command "cd genesys_jax && \
        pip install -e '.[tpu]' && GEMINI_API_KEY=... python -m genesys_jax.main \
        --config configs/tpu.py --workdir runs/tpu \
        --config.verify.data.tfds_name=smollm_corpus --config.verify.data.tfds_data_dir=$HOME/tfds \
        --config.verify.data.tokenizer_model=$HOME/spm32k.model --config.verify.eval.tfds_data_dir=$HOME/tfds"

One host (a v4-8, v5litepod-8 or v6e-8 VM): its verifier process owns all the host's chips. Multi-host
pod slices need every host to run the same verification in lockstep (`jax.distributed.initialize`,
which `genesys_jax.distributed` calls, and one job followed by all hosts); the verifier does not
coordinate that yet, so a multi-host slice is not supported by this config. Takes paper.py's variants
(`configs/tpu.py:offline`) and its data preparation steps.

The 350M rung trains 256 rows of 2048 tokens a step without gradient accumulation, about 15 GiB of
memory a row (XLA's analysis on a GPU), so at the paper's step size the compile gate records
`does_not_fit` there before anything is allocated; lower `verify.train.batch_tokens` for such rungs.
"""

import pathlib
import runpy

import ml_collections

_PAPER = runpy.run_path(str(pathlib.Path(__file__).with_name("paper.py")))


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = _PAPER["get_config"](arg)
  config.verify.mesh.data = 1
  config.verify.mesh.fsdp = -1                # every chip of the host (tensor stays 1)
  return config


def get_sweep(arg: str | None = None) -> list[dict[str, object]]:
  """paper.py's sweep (design flow x selection) on this hardware."""
  return _PAPER["get_sweep"](arg)
