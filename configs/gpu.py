"""The paper's run (configs/paper.py) on one node of NVIDIA GPUs, e.g. 8 x H100 or A100.

    pip install -e '.[cuda]'
    GEMINI_API_KEY=... XLA_PYTHON_CLIENT_MEM_FRACTION=0.95 python -m genesys_jax.main \
        --config configs/gpu.py --workdir runs/gpu \
        --config.verify.data.tfds_name=smollm_corpus --config.verify.data.tfds_data_dir=$HOME/tfds \
        --config.verify.data.tokenizer_model=$HOME/spm32k.model --config.verify.eval.tfds_data_dir=$HOME/tfds

Takes paper.py's variants (`configs/gpu.py:offline`) and its data preparation steps. One verifier
process owns every GPU of the node: a 256 x 2048-token step is split 32 rows a GPU, with weights and
optimizer state sharded over the GPUs (FSDP over NVLink, ZeRO-3 style) so the memory goes to
activations. Compute is bfloat16 (`compute_dtype='auto'`) over float32 master weights.
`XLA_PYTHON_CLIENT_MEM_FRACTION` lets XLA use 95% of each GPU instead of its default 75%; the compile
gate (verify.train.memory_fraction) measures against that.
"""

import pathlib
import runpy

import ml_collections

_PAPER = runpy.run_path(str(pathlib.Path(__file__).with_name("paper.py")))


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = _PAPER["get_config"](arg)
  config.verify.mesh.data = 1
  config.verify.mesh.fsdp = -1                # every GPU of the node
  config.verify.mesh.tensor = 1
  return config
