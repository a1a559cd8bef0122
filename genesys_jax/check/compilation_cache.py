"""JAX's persistent compilation cache, shared by the checker's sandboxes, the controller and the verifiers."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import warnings

import jax


def compilation_cache_dir() -> pathlib.Path:
  """$GENESYS_JAX_CACHE/xla or ~/.cache/genesys_jax/xla (created): the one directory sandboxes may write
  besides their own, so the GPT reference and unchanged units compile once across checks and runs."""
  root = os.environ.get("GENESYS_JAX_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "genesys_jax")
  path = pathlib.Path(root) / "xla"
  path.mkdir(parents=True, exist_ok=True)
  return path


@dataclasses.dataclass(frozen=True)
class SandboxCache:
  """How a sandboxed process uses the cache: the path it compiles into and the mounts that allow it."""

  path: str
  read_only: bool
  writable: tuple[str, ...]
  readonly: tuple[str, ...]


def sandbox_cache(library_code: bool, bubblewrap: bool, private_dir: str | pathlib.Path) -> SandboxCache:
  """Only the library's own code writes the shared cache; other code reads it where bubblewrap can mount
  it read-only, and otherwise compiles into `private_dir`, which nothing else reads."""
  shared = str(compilation_cache_dir())
  if library_code:
    return SandboxCache(shared, False, (shared,), ())
  return SandboxCache(shared if bubblewrap else str(private_dir), True, (), (shared,))


def use_request_cache(request: dict) -> None:
  """The cache a sandboxed process's request names (`compilation_cache`, `cache_read_only`)."""
  use_compilation_cache(request["compilation_cache"])
  if request["cache_read_only"]:  # bubblewrap mounts it read-only: JAX warns at every write
    warnings.filterwarnings("ignore", message="Error writing persistent compilation cache")


def use_compilation_cache(path: str | pathlib.Path | None = None) -> None:
  """Makes this process read and write the cache at `path` (default: `compilation_cache_dir()`), keeping
  every compile however short (a design's eager initialization is dozens of tiny compiles)."""
  jax.config.update("jax_compilation_cache_dir", str(path or compilation_cache_dir()))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
