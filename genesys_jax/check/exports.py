"""Programs exported from unit code: what the checker's trusted side runs instead of the code itself.

The process that imports agent-written units traces them into StableHLO (`jax.export`) and sends the
programs with their initial parameters as one bundle. The trusted side (`check.prober`) loads the bundle,
refuses any program that reaches outside XLA (host callbacks, infeed/outfeed, send/recv, unknown custom
calls), and derives every verdict itself: no Python of the unit's runs where the checks run.

A bundle is an `.npz` file (read with `allow_pickle=False`): per program its serialized `Exported`
(with its VJP where gradients are needed) and its parameter arrays, plus a JSON manifest.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable
from typing import IO, Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import export
from jaxlib.mlir import ir

DIALECTS_ALLOWED = ("builtin", "func", "stablehlo", "chlo", "sdy")
OPS_DENIED = ("stablehlo.infeed", "stablehlo.outfeed", "stablehlo.send", "stablehlo.recv")
"""Ops that move data between the program and the host or other programs."""
CUSTOM_CALLS_ALLOWED = ("Sharding", "SPMDFullToShardShape", "SPMDShardToFullShape", "annotate_device_placement",
                        "AllocateBuffer", "shape_assertion", "cu_threefry2x32_ffi", "hip_threefry2x32_ffi")
CUSTOM_CALL_PREFIXES_ALLOWED = ("lapack_", "cusolver_", "hipsolver_", "cu_lu_pivots", "hip_lu_pivots")
"""Custom calls with fixed, data-only semantics (sharding annotations, linear algebra). Host callbacks
(`*python*callback*`) and kernels in other languages are not among them."""
MAX_PROGRAMS = 8


class BundleError(ValueError):
  """A bundle the trusted side will not run: malformed, or a program that reaches outside XLA."""


@dataclasses.dataclass
class Program:
  """An exported function `(params, x) -> y` and the parameters it was exported with."""

  exported: export.Exported
  params: list[np.ndarray]
  names: list[str]  # the parameters' paths in the module, for messages
  vjp: bool = False  # whether the bundle carries its VJP (the trusted side can differentiate it)

  def __call__(self, x: jax.Array, params: list | None = None) -> jax.Array:
    return self.exported.call(self.params if params is None else params, x)

  @property
  def input(self) -> jax.ShapeDtypeStruct:
    aval = self.exported.in_avals[-1]
    return jax.ShapeDtypeStruct(aval.shape, aval.dtype)

  @property
  def output(self) -> jax.ShapeDtypeStruct:
    aval = self.exported.out_avals[0]
    return jax.ShapeDtypeStruct(aval.shape, aval.dtype)


def export_module(module: nnx.Module, x: jax.ShapeDtypeStruct, call: Callable[[Any, jax.Array], jax.Array],
                  vjp: bool = False) -> Program:
  """Exports `call(module, x)` as a function of the module's parameters and `x`; every other variable of
  the module (buffers, RNG state) is baked into the program as a constant."""
  graphdef, params, rest = nnx.split(module, nnx.Param, ...)
  with_paths, treedef = jax.tree_util.tree_flatten_with_path(params)
  leaves = [np.asarray(leaf) for _, leaf in with_paths]

  def function(leaves: list[jax.Array], x: jax.Array) -> jax.Array:
    return call(nnx.merge(graphdef, jax.tree.unflatten(treedef, leaves), rest), x)

  exported = export.export(jax.jit(function))([jax.ShapeDtypeStruct(l.shape, l.dtype) for l in leaves], x)
  names = [jax.tree_util.keystr(path, simple=True, separator=".").removesuffix(".value") for path, _ in with_paths]
  return Program(exported, leaves, names, vjp)


def write_bundle(stream: IO[bytes], programs: dict[str, Program], manifest: dict) -> None:
  """Writes the programs (with their VJPs where they have one) and a JSON manifest as one `.npz`."""
  arrays = {"manifest": np.frombuffer(json.dumps(
      {**manifest, "programs": {k: p.names for k, p in programs.items()}}).encode(), np.uint8)}
  for name, program in programs.items():
    serialized = program.exported.serialize(vjp_order=1 if program.vjp else 0)
    arrays[f"{name}.exported"] = np.frombuffer(bytes(serialized), np.uint8)
    arrays.update({f"{name}.p{i}": p for i, p in enumerate(program.params)})
  buffer = io.BytesIO()
  np.savez(buffer, **arrays)
  stream.write(buffer.getvalue())


def read_bundle(path: str, inputs: dict[str, tuple[tuple[int | None, ...], str]]
                ) -> tuple[dict[str, Program], dict]:
  """The programs and manifest of a bundle, each program checked by `program_problems`; `inputs` names
  the programs it must hold, each with its input's shape (None: any size) and dtype.

  Raises BundleError for anything malformed or not allowed."""
  try:
    with np.load(path, allow_pickle=False) as data:
      arrays = {k: data[k] for k in data.files}
    manifest = json.loads(bytes(arrays.pop("manifest")).decode())
    names = manifest["programs"]
    if not isinstance(names, dict) or len(names) > MAX_PROGRAMS:
      raise BundleError("the bundle's manifest lists no programs or too many")
    programs = {}
    for name, param_names in names.items():
      exported = export.deserialize(bytearray(arrays[f"{name}.exported"].tobytes()))
      params = [arrays[f"{name}.p{i}"] for i in range(len(exported.in_avals) - 1)]
      if not isinstance(param_names, list) or len(param_names) != len(params):
        raise BundleError(f"the manifest names {name!r}'s parameters wrongly")
      programs[name] = Program(exported, params, [str(n)[:200] for n in param_names], exported.has_vjp())
  except BundleError:
    raise
  except Exception as e:  # a bundle is untrusted data: any malformation is a refusal
    raise BundleError(f"the exported programs could not be read: {type(e).__name__}: {str(e)[:300]}") from None
  if set(programs) != set(inputs):
    raise BundleError(f"the bundle holds programs {sorted(programs)}, not {sorted(inputs)}")
  for name, program in programs.items():
    shape, dtype = inputs[name]
    got = program.input
    if len(got.shape) != len(shape) or any(s not in (None, g) for s, g in zip(shape, got.shape)) or (
        got.dtype != jnp.dtype(dtype)):
      raise BundleError(f"program {name!r} takes {got.dtype}{list(got.shape)}, not {dtype}{list(shape)}")
    problems = program_problems(program)
    if problems:
      raise BundleError(f"program {name!r} is refused: {'; '.join(problems[:5])}")
  return programs, manifest


def program_problems(program: Program) -> list[str]:
  """Why `program` may not run on the trusted side (empty if it may): its signature, its devices, and
  every op of it and of its VJP against the allow-list above."""
  exp = program.exported
  problems = []
  if exp.nr_devices != 1 or jax.default_backend() not in exp.platforms:
    problems.append(f"exported for {exp.nr_devices} devices on {exp.platforms}, not one {jax.default_backend()}")
  tree = jax.tree_util.tree_structure((([0] * len(program.params), 0), {}))  # (args, kwargs)
  if exp.in_tree != tree or len(exp.out_avals) != 1:
    problems.append("its signature is not (parameters, input) -> output")
  elif any(a.shape != p.shape or a.dtype != p.dtype for a, p in zip(exp.in_avals, program.params)):
    problems.append("its parameters do not match the arrays sent with it")
  modules = [exp] + ([exp.vjp()] if exp.has_vjp() else [])
  for module in modules:
    problems += _op_problems(module.mlir_module())
  return problems


def _op_problems(text: str) -> list[str]:
  problems: list[str] = []
  with jax.interpreters.mlir.make_ir_context():
    module = ir.Module.parse(text)

    def visit(op: ir.Operation) -> ir.WalkResult:
      name = op.name
      if name.split(".")[0] not in DIALECTS_ALLOWED or name in OPS_DENIED:
        problems.append(f"op {name} is not allowed")
      elif name == "stablehlo.custom_call":
        target = ir.StringAttr(op.attributes["call_target_name"]).value
        if target not in CUSTOM_CALLS_ALLOWED and not target.startswith(CUSTOM_CALL_PREFIXES_ALLOWED):
          problems.append(f"custom call {target!r} is not allowed")
      return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
  return sorted(set(problems))
