"""JAX's persistent compilation cache, shared by the checker's sandboxes, the controller and the verifiers."""

from __future__ import annotations

import os
import pathlib

import jax


def compilation_cache_dir() -> pathlib.Path:
  """$GENESYS_JAX_CACHE/xla or ~/.cache/genesys_jax/xla (created): the one directory sandboxes may write
  besides their own, so the GPT reference and unchanged units compile once across checks and runs."""
  root = os.environ.get("GENESYS_JAX_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "genesys_jax")
  path = pathlib.Path(root) / "xla"
  path.mkdir(parents=True, exist_ok=True)
  return path


def use_compilation_cache(path: str | pathlib.Path | None = None) -> None:
  """Makes this process read and write the cache at `path` (default: `compilation_cache_dir()`), keeping
  every compile however short (a design's eager initialization is dozens of tiny compiles)."""
  jax.config.update("jax_compilation_cache_dir", str(path or compilation_cache_dir()))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
