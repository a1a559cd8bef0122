"""The checker's stages that run unit code (in the sandbox worker): load, unit tests, sizing and export.

Nothing here decides acceptance: the only verdicts are failures of the unit itself (it does not load,
its own tests fail, it does not build or trace). A design that cannot be sized is exported at the GPT
shape with the reason, for the trusted side to count and reject. What it produces is the bundle of
exported programs (`check.exports`) on which the trusted side derives every other check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import jax
import jax.numpy as jnp
from flax import nnx

from genesys_jax.check.dynamic import CheckSettings, Rejected, failure_text
from genesys_jax.check.exports import Program, export_module
from genesys_jax.check.report import Check
from genesys_jax.gau.composer import LanguageModel, ModelConfig
from genesys_jax.gau.design import MaterializedDesign, load_design
from genesys_jax.gau.errors import DesignError
from genesys_jax.gau.scales import get_scale
from genesys_jax.gau.sizing import autosize
from genesys_jax.units.library import library_sources

WORKER_CHECKS = ("load", "unit_tests", "forward", "parameter_band", "export")  # its stages
"""The checks the worker may report (its stages); the parent ignores any other name coming from it, and
any pass but those of `load` and `unit_tests`."""


def export_design(design_path: str, settings: CheckSettings, emit: Callable[[Check], None],
                  stage: Callable[[str], None] = lambda name: None) -> tuple[dict[str, Program], dict] | None:
  """Loads, tests, sizes and exports the design at `design_path`; None after a failure (emitted)."""
  def fail(check: Check) -> NoReturn:
    emit(check)
    raise Rejected(check.name)

  try:
    stage("load")
    try:
      md = load_design(design_path).materialize()
    except DesignError as e:
      fail(Check("load", False, str(e)))
    emit(Check("load", True))
    stage("unit_tests")
    _unit_tests(md, emit)
    stage("forward")
    programs = block_programs(md, settings, fail)
    stage("parameter_band")
    scale = get_scale(settings.scale)
    manifest = {}
    try:
      config = autosize(md, scale).config
    except DesignError as e:  # exported at the GPT shape: the trusted side counts and rejects it
      config, manifest["sizing"] = ModelConfig.from_scale(scale), e.detail
    stage("export")
    programs["model"] = model_program(md, config, settings, fail)
    return programs, {**manifest, "embed_dim": config.embed_dim, "n_layers": config.n_layers}
  except Rejected:
    return None


def _unit_tests(md: MaterializedDesign, emit: Callable[[Check], None]) -> None:
  """Runs the tests of unit files that differ from the library's (library files are tested there)."""
  known = {f for f, src in md.design.files.items() if src in library_sources()}
  failures = [f"{u}.{t}: {e}" for u, t, e in md.run_unit_tests(skip_files=known) if e is not None]
  emit(Check("unit_tests", not failures, "; ".join(failures), fatal=False,
             figures={"unit_test_files_skipped_as_library": sorted(known)}))


def block_programs(md: MaterializedDesign, settings: CheckSettings, fail: Callable[[Check], NoReturn],
                   fingerprint_length: int | None = None) -> dict[str, Program]:
  """One block at the small width, exported at the Jacobian probe's shape (float32 and bfloat16 inputs,
  with VJPs) and at the fingerprint's shape (the check rung's context)."""
  d, length = settings.small_embed_dim, fingerprint_length or get_scale(settings.scale).seq_len
  try:
    block = md.build_block(d, (0, 1), nnx.Rngs(settings.seed))
    shapes = {"block_f32": ((1, settings.jacobian_length, d), jnp.float32, True),
              "block_bf16": ((1, settings.jacobian_length, d), jnp.bfloat16, True),
              "block_print": ((2, length, d), jnp.float32, False)}
    return {name: export_module(block, jax.ShapeDtypeStruct(shape, dtype), lambda b, x: b(x)[0], vjp=vjp)
            for name, (shape, dtype, vjp) in shapes.items()}
  except Exception as e:  # unit code can fail in any way
    fail(Check("forward", False, f"at embed_dim {d} x 1 layer: {failure_text(e)}"))


def model_program(md: MaterializedDesign, config: ModelConfig, settings: CheckSettings,
                  fail: Callable[[Check], NoReturn]) -> Program:
  """The language model at the sized shape, `(params, tokens[batch, length]) -> logits`, with its VJP."""
  try:
    model = LanguageModel(md, config, rngs=nnx.Rngs(settings.seed))
    tokens = jax.ShapeDtypeStruct((settings.batch, settings.length), jnp.int32)
    return export_module(model, tokens, lambda m, t: m(t), vjp=True)
  except Exception as e:  # unit code can fail in any way
    fail(Check("forward", False, f"at embed_dim {config.embed_dim} x {config.n_layers} layers: {failure_text(e)}"))
