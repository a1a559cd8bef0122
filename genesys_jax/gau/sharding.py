"""Logical axis names -> mesh placement. Rules live in the config; unit code never names the mesh.

A rule maps a logical name (batch, length, embed, heads, kv, mlp, vocab) to a mesh axis, a tuple of
mesh axes, or None (replicated). Parameters without `axes` metadata are replicated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import jax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from genesys_jax.gau.layers import LOGICAL_AXES

Rules = Mapping[str, str | tuple[str, ...] | None]

DEFAULT_RULES: dict[str, str | tuple[str, ...] | None] = {
    "batch": ("data", "fsdp"),
    "length": None,
    "embed": "fsdp",
    "heads": "tensor",
    "kv": None,
    "mlp": "tensor",
    "vocab": "tensor",
}
"""FSDP over the embedding dimension, tensor parallelism over heads / MLP / vocabulary."""


MESH_AXES = ("data", "fsdp", "tensor")


def make_mesh(shape: Mapping[str, int], devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A mesh over (`data`, `fsdp`, `tensor`) with automatic (GSPMD) sharding propagation.

  `shape` gives each axis's size; -1 (at most one axis) takes the remaining devices.
  """
  devices = list(devices if devices is not None else jax.devices())
  sizes = [int(shape.get(a, 1)) for a in MESH_AXES]
  if sizes.count(-1) > 1:
    raise ValueError(f"at most one mesh axis may be -1, got {dict(shape)}")
  known = 1
  for s in sizes:
    known *= s if s != -1 else 1
  sizes = [len(devices) // known if s == -1 else s for s in sizes]
  total = 1
  for s in sizes:
    total *= s
  if total != len(devices):
    raise ValueError(f"mesh {dict(zip(MESH_AXES, sizes))} needs {total} devices, {len(devices)} available")
  return jax.make_mesh(tuple(sizes), MESH_AXES, axis_types=(jax.sharding.AxisType.Auto,) * 3,
                       devices=devices)


def partition_spec(axes: Sequence[str | None], rules: Rules, mesh: Mesh | None = None) -> PartitionSpec:
  """The PartitionSpec for logical `axes`; mesh axes of size 1 or absent from `mesh` are dropped."""
  unknown = [a for a in axes if a is not None and a not in LOGICAL_AXES]
  if unknown:
    raise ValueError(f"unknown logical axes {unknown}; expected names from {LOGICAL_AXES}")
  used: set[str] = set()
  spec = []
  for name in axes:
    target = rules.get(name) if name is not None else None
    targets = (target,) if isinstance(target, str) else tuple(target or ())
    if mesh is not None:
      targets = tuple(t for t in targets if t in mesh.shape and mesh.shape[t] > 1)
    targets = tuple(t for t in targets if t not in used)  # a mesh axis shards one dimension at most
    used.update(targets)
    spec.append(None if not targets else targets[0] if len(targets) == 1 else targets)
  return PartitionSpec(*spec)


def state_shardings(state: nnx.State, mesh: Mesh, rules: Rules) -> nnx.State:
  """A NamedSharding for every variable in `state`, from its `axes` metadata."""
  def sharding(var: nnx.Variable) -> NamedSharding:
    axes = var.get_metadata().get("axes")
    spec = partition_spec(axes, rules, mesh) if axes is not None else PartitionSpec()
    return NamedSharding(mesh, spec)
  return jax.tree.map(sharding, state, is_leaf=lambda x: isinstance(x, nnx.Variable))


def create_sharded(factory: Callable[[], nnx.Module], mesh: Mesh, rules: Rules) -> nnx.Module:
  """Builds the module from `factory` under jit so every weight starts out sharded on `mesh`."""
  graphdef, abstract_state = nnx.split(nnx.eval_shape(factory))
  shardings = state_shardings(abstract_state, mesh, rules)

  @jax.jit(out_shardings=shardings)
  def init() -> nnx.State:
    return nnx.split(factory())[1]

  return nnx.merge(graphdef, init())
