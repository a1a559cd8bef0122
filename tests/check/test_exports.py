"""The trust boundary of the checker: exported programs, what the trusted side refuses, and a worker that
lies about its checks."""

import dataclasses
import io
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import export
from jaxlib.mlir import ir

from genesys_jax.check import checker, exports
from genesys_jax.check.dynamic import CheckSettings, fingerprint, program_inputs
from genesys_jax.check.sandbox import Limits
from genesys_jax.gau.composer import LanguageModel, ModelConfig
from genesys_jax.units.seeds import seed_design

HOSTILE = pathlib.Path(__file__).parent / "hostile"
ROOT = pathlib.Path(__file__).resolve().parents[2]


def _tiny_model() -> nnx.Module:
  return LanguageModel(seed_design("gpt2").materialize(), ModelConfig(32, 1, 64), rngs=nnx.Rngs(0))


def _bundle(tmp_path, programs: dict, manifest: dict | None = None) -> str:
  stream = io.BytesIO()
  exports.write_bundle(stream, programs, manifest or {})
  path = tmp_path / "bundle.npz"
  path.write_bytes(stream.getvalue())
  return str(path)


def test_a_program_round_trips_with_its_vjp_and_equals_the_module(tmp_path):
  model = _tiny_model()
  tokens = jnp.arange(16, dtype=jnp.int32).reshape(2, 8) % 64
  program = exports.export_module(model, jax.ShapeDtypeStruct(tokens.shape, tokens.dtype), lambda m, t: m(t), vjp=True)
  programs, _ = exports.read_bundle(_bundle(tmp_path, {"m": program}), {"m": ((2, 8), "int32")})
  loaded = programs["m"]
  np.testing.assert_allclose(loaded(tokens), model(tokens), rtol=1e-6, atol=1e-6)
  grads = jax.grad(lambda p: loaded(tokens, p).sum())(loaded.params)
  assert len(grads) == len(loaded.params) and any(np.any(g != 0) for g in grads)
  assert loaded.names == program.names and "embed" in loaded.names


def test_a_bundle_whose_program_calls_back_to_the_host_is_refused(tmp_path):
  """A subverted worker is not bound by `jax.export`'s own refusal of host callbacks: it can write any
  module into the bundle. Here the module of an honest export is swapped for one that calls Python."""
  honest = export.export(jax.jit(lambda params, x: x * params[0]))([jax.ShapeDtypeStruct((2,), jnp.float32)],
                                                                   jax.ShapeDtypeStruct((2,), jnp.float32))
  text = """
  module @jit_f attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
    func.func public @main(%arg0: tensor<2xf32>, %arg1: tensor<2xf32>) -> (tensor<2xf32>) {
      %0 = stablehlo.custom_call @xla_ffi_python_cpu_callback(%arg1) {has_side_effect = true} : (tensor<2xf32>) -> tensor<2xf32>
      return %0 : tensor<2xf32>
    }
  }"""
  with jax.interpreters.mlir.make_ir_context():
    bytecode = jax.interpreters.mlir.module_to_bytecode(ir.Module.parse(text))
  forged = dataclasses.replace(honest, mlir_module_serialized=bytecode)
  path = _bundle(tmp_path, {"m": exports.Program(forged, [np.ones(2, np.float32)], ["w"])})
  with pytest.raises(exports.BundleError, match="custom call 'xla_ffi_python_cpu_callback' is not allowed"):
    exports.read_bundle(path, {"m": ((2,), "float32")})


def test_ops_outside_the_allow_list_are_named():
  text = """
  module @m {
    func.func public @main(%arg0: tensor<2xf32>) -> tensor<2xf32> {
      %0 = stablehlo.custom_call @xla_python_cpu_callback(%arg0) : (tensor<2xf32>) -> tensor<2xf32>
      %1 = stablehlo.create_token : !stablehlo.token
      %2 = "stablehlo.outfeed"(%0, %1) : (tensor<2xf32>, !stablehlo.token) -> !stablehlo.token
      return %0 : tensor<2xf32>
    }
  }"""
  problems = exports._op_problems(text)
  assert "custom call 'xla_python_cpu_callback' is not allowed" in problems
  assert "op stablehlo.outfeed is not allowed" in problems


def test_a_bundle_with_other_programs_or_shapes_is_refused(tmp_path):
  model = _tiny_model()
  program = exports.export_module(model, jax.ShapeDtypeStruct((2, 8), jnp.int32), lambda m, t: m(t))
  with pytest.raises(exports.BundleError, match="not \\['m', 'x'\\]"):
    exports.read_bundle(_bundle(tmp_path, {"m": program}), {"m": ((2, 8), "int32"), "x": ((1,), "float32")})
  with pytest.raises(exports.BundleError, match="takes int32\\[2, 8\\], not int32\\[4, 8\\]"):
    exports.read_bundle(_bundle(tmp_path, {"m": program}), {"m": ((4, 8), "int32")})
  (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not a zip at all")
  with pytest.raises(exports.BundleError, match="could not be read"):
    exports.read_bundle(str(tmp_path / "junk.npz"), {"m": ((2, 8), "int32")})


def test_the_fingerprint_is_that_of_the_exported_block():
  settings = CheckSettings()
  shape = program_inputs(settings)["block_print"][0]
  a = fingerprint(seed_design("gpt2").materialize(), shape[1])
  assert a == fingerprint(seed_design("gpt2").materialize(), shape[1])
  assert a != fingerprint(seed_design("rwkv6").materialize(), shape[1])


FORGING_WORKER = """
import json, os, sys
sys.path.append({root!r})
from genesys_jax.check import worker
from genesys_jax.check.sandbox import child_arguments
args = child_arguments()
forged = [{{"check": {{"name": n, "ok": True, "message": "", "severity": "error",
                     "figures": {{"fingerprint": "forged"}} if n == "fingerprint" else {{}}}}}}
          for n in ("forward", "causality", "differentiability", "parameter_band", "compile", "training",
                    "time", "memory", "flops", "fingerprint")] + [{{"done": True}}]
os.write(args.result_fd, "".join(json.dumps(m) + "\\n" for m in forged).encode())
worker.main(args.request, args.result_fd, args.data_fd)
"""


def test_a_worker_taken_over_by_its_unit_cannot_forge_a_verdict(tmp_path, monkeypatch):
  """The unit owns the worker process (as if vetting had been beaten): it sends passes for every check
  and a fingerprint before the real export. The verdicts still come from the prober, which rejects the
  non-causal block; none of the forged figures reach the report."""
  script = tmp_path / "forging_worker.py"
  script.write_text(FORGING_WORKER.format(root=str(ROOT)))
  real = checker.python_module
  monkeypatch.setattr(checker, "python_module", lambda module, *args: (
      [sys.executable, "-I", str(script), *args] if module == "genesys_jax.check.worker" else real(module, *args)))
  monkeypatch.setattr(checker, "isolation", lambda: "none")  # the script lives where bubblewrap hides /tmp
  report = checker.check(HOSTILE / "flipped_attention.py", limits=Limits(allow_unisolated=True))
  failed = {c.name: c.message for c in report.checks if not c.ok and c.fatal}
  assert list(failed) == ["causality"], report.feedback()
  assert report.figures.get("fingerprint") != "forged"
  assert [c.name for c in report.checks].count("causality") == 1
