"""genesys_jax: language models discovering language-model architectures, in JAX."""

import os

# TensorFlow is loaded only by tensorflow-datasets, never to compute. On CPUs with AVX-512 its oneDNN
# start-up notice lands on stderr of every entry point (breaking the one-line error contract); turning
# oneDNN off silences it and changes nothing we compute. Set the variable to 1 to keep oneDNN.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"
