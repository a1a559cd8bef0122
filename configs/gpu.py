"""The paper's run (configs/paper.py) on one node of NVIDIA GPUs, e.g. 8 x H100 or A100.

    pip install -e '.[cuda]'
    GEMINI_API_KEY=... XLA_PYTHON_CLIENT_MEM_FRACTION=0.95 python -m genesys_jax.main \
        --config configs/gpu.py --workdir runs/gpu \
        --config.verify.data.tfds_name=smollm_corpus --config.verify.data.tfds_data_dir=$HOME/tfds \
        --config.verify.data.tokenizer_model=$HOME/spm32k.model --config.verify.eval.tfds_data_dir=$HOME/tfds

Takes paper.py's variants (`configs/gpu.py:offline`) and its data preparation steps. One verifier
process owns every GPU of the node: a 256 x 2048-token step is split 32 rows a GPU (on 8 GPUs), with
weights and optimizer state sharded over the GPUs (FSDP over NVLink) and bfloat16 compute
(`compute_dtype='auto'`) over float32 master weights. `XLA_PYTHON_CLIENT_MEM_FRACTION` lets XLA use
95% of each GPU instead of 75%; the compile gate (verify.train.memory_fraction) measures against that.

Memory (XLA's analysis of the GPT seed's step, one H200): 32 rows need 25 GiB at 14M, 66 GiB at
70M and 122 GiB at 125M; at 350M 8 rows need 115 GiB and 4 rows 60 GiB. At the paper's 0.5M-token step
the compile gate cuts a step that does not fit into micro-batches (gradient accumulation): by those
figures 8 rows at a time, 32 micro-batches a step, for the 350M rung on one H200.
"""

import pathlib
import runpy

import ml_collections

_PAPER = runpy.run_path(str(pathlib.Path(__file__).with_name("paper.py")))


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = _PAPER["get_config"](arg)
  config.verify.mesh.data = 1
  config.verify.mesh.fsdp = -1                # every GPU of the node (tensor stays 1)
  return config


def get_sweep(arg: str | None = None) -> list[dict[str, object]]:
  """paper.py's sweep (design flow x selection) on this hardware."""
  return _PAPER["get_sweep"](arg)
