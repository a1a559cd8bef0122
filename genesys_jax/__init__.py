"""genesys_jax: language models discovering language-model architectures, in JAX."""

__version__ = "0.1.0"
