"""The dynamic checks, derived by the trusted side from the programs a design exported (`check.exports`).

No unit code runs here: the forward, causality, gradient, parameter-count, training and efficiency
checks and the fingerprint all run the design's exported StableHLO with this module's own code, in a
process that never imported the unit (`check.prober`). Stages run in order and stop at the first fatal
failure; each emits a `Check` as soon as it is done.
Thresholds against the GPT seed follow the original system: time 3x (warn 1.5x), memory 4x (warn 2x),
FLOPs 3x (warn 1.5x). FLOPs and memory are XLA's figures for the compiled step, the same on every machine;
wall-clock time rejects only on accelerators: on a CPU the checker shares its cores with the run's
verifiers, so a time ratio there is a warning, never a verdict that depends on the machine's load.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from genesys_jax.check import probes
from genesys_jax.check.exports import Program, export_module
from genesys_jax.check.report import Check
from genesys_jax.gau.composer import LanguageModel, ModelConfig
from genesys_jax.gau.design import MaterializedDesign
from genesys_jax.gau.errors import DesignError
from genesys_jax.gau.scales import get_scale
from genesys_jax.gau.sizing import BAND_TOLERANCE, autosize, reference_params
from genesys_jax.units.seeds import SEED_NAMES, seed_design, vanilla_gpt

RATIO_LIMITS = {"time": (1.5, 3.0), "memory": (2.0, 4.0), "flops": (1.5, 3.0)}
"""(warn above, reject above) for the candidate's figure over the GPT seed's."""
FAMILY_LIMITS = {"memory": 2.0, "flops": 2.0}
"""A memory or FLOPs figure over the GPT limit rejects only if it is also this far over the seed the
design descends from (`CheckSettings.family`): a Mamba2 child is judged against Mamba2 as well."""
TIME_REJECTS_ON = ("gpu", "tpu")
"""Platforms whose time ratio can reject; elsewhere (a shared CPU) it only warns."""


@dataclasses.dataclass(frozen=True)
class CheckSettings:
  """Sizes and budgets of the dynamic checks."""

  scale: str = "micro1"
  small_embed_dim: int = 32
  batch: int = 4
  length: int = 64
  causality_positions: int = 12
  jacobian_length: int = 12
  train_steps: int = 12
  seed: int = 0
  family: str = ""  # the seed the design descends from ("" for none): a second reference for memory, FLOPs


def program_inputs(settings: CheckSettings) -> dict[str, tuple[tuple[int | None, ...], str]]:
  """The programs a design exports for the checks, each with its input's shape (None: the design's
  choice, the sized width) and dtype (see `check.unit_stages`)."""
  block = (1, settings.jacobian_length, settings.small_embed_dim)
  return {"model": ((settings.batch, settings.length), "int32"), "block_f32": (block, "float32"),
          "block_bf16": (block, "bfloat16"),
          "block_print": ((2, get_scale(settings.scale).seq_len, settings.small_embed_dim), "float32")}


class Rejected(Exception):
  """Stops the stages after a fatal check."""


def failure_text(e: BaseException) -> str:
  """What an error raised while building or running a design says, with a hint for running out of memory."""
  text = str(e) if isinstance(e, DesignError) else f"{type(e).__name__}: {e}"
  hint = (" (out of memory under the sandbox's memory limit; allocate less)"
          if isinstance(e, MemoryError) or "RESOURCE_EXHAUSTED" in text else "")
  return f"{text[:600]}{hint}"


def run_checks(programs: dict[str, Program], shape: dict, settings: CheckSettings, reference: Reference,
               emit: Callable[[Check], None], stage: Callable[[str], None] = lambda name: None) -> None:
  """Runs every stage on a design's exported programs, emitting checks; stops at the first fatal one.

  `shape` is the sized model's `embed_dim` and `n_layers` as the design reported them, and `sizing`,
  why it could not be sized, if so (all for messages only);
  `reference` is `prepare_reference(settings)`."""
  def done(check: Check) -> None:
    emit(check)
    if not check.ok and check.fatal:
      raise Rejected(check.name)

  try:
    scale = get_scale(settings.scale)
    vocab = ModelConfig.from_scale(scale).vocab_size
    model = programs["model"]
    where = f"at embed_dim {shape.get('embed_dim')} x {shape.get('n_layers')} layers"
    key = jax.random.key(settings.seed)
    tokens = jax.random.randint(key, (settings.batch, settings.length), 0, vocab)
    stage("forward")
    forward = _forward(programs, tokens, vocab, where, done)
    stage("causality")
    _causality(forward, programs, settings, tokens, vocab, done)
    stage("differentiability")
    _gradients(model, forward, jax.random.randint(key, (settings.batch, settings.length + 1), 0, vocab), done)
    stage("parameter_band")
    _band(model, scale, shape, done)
    stage("compile")
    _effectiveness(model, scale, settings, reference, done, stage)
    stage("fingerprint")
    done(Check("fingerprint", True, "", figures={"fingerprint": program_fingerprint(programs["block_print"])}))
  except Rejected:
    return


def check_in_process(design_path: str, settings: CheckSettings, emit: Callable[[Check], None],
                     stage: Callable[[str], None] = lambda name: None) -> None:
  """Exports and checks a design in this process: for trusted code (the library's seeds), tests and
  benchmarks only; agent-written code goes through `checker.check`."""
  from genesys_jax.check.unit_stages import export_design  # pylint: disable=import-outside-toplevel
  stage("reference")
  reference = prepare_reference(settings)
  exported = export_design(design_path, settings, emit, stage)
  if exported is not None:
    run_checks(*exported, settings, reference, emit, stage)


def _model_forward(model: Program) -> Callable[[list, jax.Array], jax.Array]:
  return jax.jit(model.exported.call, compiler_options=probes.fast_compile_options())


def _forward(programs: dict[str, Program], tokens, vocab: int, where: str, done) -> Callable:
  """Runs the model and the small block once; returns the model's jitted `(params, tokens) -> logits`."""
  model, expected = programs["model"], tokens.shape + (vocab,)
  if model.input.shape != tokens.shape or model.output.shape != expected:
    done(Check("forward", False, f"{where}: the model maps {model.input.shape} tokens to logits of shape "
               f"{model.output.shape}, not {expected}"))
  forward = _model_forward(model)
  x = jnp.zeros(programs["block_print"].input.shape, jnp.float32)
  try:
    outputs = {where: forward(model.params, tokens), "at the small width": programs["block_print"](x)}
  except Exception as e:  # an XLA runtime error, e.g. out of memory
    done(Check("forward", False, f"{where}: {failure_text(e)}"))
  for place, out in outputs.items():
    if not bool(jnp.all(jnp.isfinite(out))):
      done(Check("forward", False, f"{place}: the output has NaN or Inf values at initialization; check "
                 "divisions, logs, square roots and exponentials for unguarded inputs"))
  done(Check("forward", True))
  return forward


def _causality(forward, programs: dict[str, Program], settings: CheckSettings, tokens, vocab: int, done) -> None:
  step = max(1, (settings.length - 1) // settings.causality_positions)
  params = programs["model"].params
  leaks = probes.causality_leaks(lambda t: forward(params, t), tokens, range(0, settings.length - 1, step), vocab)
  if leaks:
    done(Check("causality", False, f"outputs at positions {leaks[:5]} change when only later tokens change: "
               "the block reads the future. Mask attention scores with a lower-triangular mask, pad "
               "convolutions on the left only, and never pool or normalize over the length axis"))
  x = jax.random.normal(jax.random.key(settings.seed + 1), programs["block_f32"].input.shape)
  pairs = []
  for name in ("block_f32", "block_bf16"):  # the accelerators train in bfloat16: a block must be causal there too
    block = programs[name]
    pairs = pairs or probes.function_jacobian_leaks(block, x.astype(block.input.dtype), probes.fast_compile_options())
  if pairs:
    done(Check("causality", False, f"the Jacobian shows output t depending on input s > t for (t, s) in "
               f"{pairs[:5]}: a leak too small for the perturbation test, e.g. a mean or norm over the "
               "length axis"))
  done(Check("causality", True))


def _next_token_loss(forward: Callable[[list, jax.Array], jax.Array]) -> Callable[[list, jax.Array], jax.Array]:
  return lambda p, t: optax.softmax_cross_entropy_with_integer_labels(forward(p, t[:, :-1]), t[:, 1:]).mean()


def _gradients(model: Program, forward, tokens, done) -> None:
  report = probes.loss_gradient_report(_next_token_loss(model.exported.call), model.params, model.names, tokens,
                                       probes.fast_compile_options())
  if report.nonfinite:
    done(Check("differentiability", False, f"non-finite gradients for {report.nonfinite[:5]}; guard "
               "divisions, logs and square roots (add eps) and clip exponents"))
  reference = forward(model.params, tokens[:, :-1]) if report.zero else None
  blocked = []
  for name in report.zero:  # a parameter with no gradient: unused, or used but cut off from the loss?
    i = model.names.index(name)
    bumped = [p + 1.0 if j == i else p for j, p in enumerate(model.params)]
    if not np.allclose(forward(bumped, tokens[:, :-1]), reference):
      blocked.append(name)
  if blocked:
    done(Check("differentiability", False, f"parameters {blocked[:5]} change the output but get no gradient; "
               "remove stop_gradient or non-differentiable ops (argmax, rounding, integer casts) on their path"))
  unused = [n for n in report.zero if n not in blocked]
  done(Check("differentiability", True, f"unused parameters (never affect the output; remove them): {unused[:10]}"
             if unused else "", figures={"unused_parameters": unused}))


def _band(model: Program, scale, shape: dict, done) -> None:
  """The parameter count of the exported model (its floating-point inputs) against the GPT reference."""
  params = sum(int(p.size) for p in model.params if np.issubdtype(p.dtype, np.floating))
  reference = reference_params(scale)
  ratio = params / reference
  figures = {"params": params, "reference_params": reference, "ratio": round(ratio, 4),
             "embed_dim": shape.get("embed_dim"), "n_layers": shape.get("n_layers")}
  if abs(ratio - 1) > BAND_TOLERANCE:
    tried = f"{shape['sizing'][:600]}; " if shape.get("sizing") else ""
    done(Check("parameter_band", False, f"{tried}the model has {params:,} parameters, {ratio:.2f}x the GPT "
               f"reference's {reference:,} (allowed: within {BAND_TOLERANCE:.0%}); make the block's parameter "
               "count scale with embed_dim like a Transformer block (about 12 * embed_dim^2)", figures=figures))
  done(Check("parameter_band", True, figures=figures))


def reference_program(design: MaterializedDesign, config: ModelConfig, settings: CheckSettings) -> Program:
  """A library design (the GPT reference, a family seed) at `config`, exported like a candidate."""
  model = LanguageModel(design, config, rngs=nnx.Rngs(settings.seed))
  tokens = jax.ShapeDtypeStruct((settings.batch, settings.length), jnp.int32)
  return export_module(model, tokens, lambda m, t: m(t), vjp=True)


def _train_step(program: Program, scale, batch) -> probes.CompiledStep:
  return probes.compile_loss_step(_next_token_loss(program.exported.call), program.params, scale.learning_rate,
                                  batch, probes.fast_compile_options())


@dataclasses.dataclass
class Reference:
  """The GPT reference's compiled training step and losses on the check's batches: what every candidate's
  training, time, memory and FLOPs are compared with (prepared before the candidate's programs arrive)."""

  batches: list[jax.Array]
  step: probes.CompiledStep
  losses: list[float]


def prepare_reference(settings: CheckSettings) -> Reference:
  """Compiles and runs the GPT reference's training step at the check's scale and batches."""
  scale = get_scale(settings.scale)
  key = jax.random.key(settings.seed + 2)
  batches = probes.text_batches(probes.library_text(), key, settings.train_steps, settings.batch, settings.length + 1)
  step = _train_step(reference_program(vanilla_gpt().materialize(), ModelConfig.from_scale(scale), settings),
                     scale, batches[0])
  return Reference(batches, step, step.time_steps(batches)[0])


def _effectiveness(model: Program, scale, settings: CheckSettings, reference: Reference, done, stage) -> None:
  batches = reference.batches
  try:
    cand = _train_step(model, scale, batches[0])
  except Exception as e:  # XLA refusing the program
    done(Check("compile", False, f"the training step does not compile: {type(e).__name__}: {str(e)[:600]}"))
  done(Check("compile", True, figures={"compile_seconds": round(cand.compile_seconds, 2),
                                       "memory_bytes": cand.memory_bytes, "flops": cand.flops}))
  stage("training")
  losses, _ = cand.time_steps(batches)
  gpt, gpt_losses = reference.step, reference.losses
  cand_s, gpt_s = _alternating_step_seconds(cand, gpt, batches)
  figures = {"losses": [round(x, 4) for x in losses], "gpt_losses": [round(x, 4) for x in gpt_losses]}
  if not all(np.isfinite(losses)) or max(losses) > 1e4:
    done(Check("training", False, f"the loss became {max(losses)} during a short training run; look for "
               "unstable exponentials, missing normalization or a missing 1/sqrt(d) scale", figures=figures))
  if float(np.mean(np.gradient(losses))) >= 0:
    done(Check("training", False, f"the loss did not fall over {len(losses)} steps ({losses[0]:.3f} -> "
               f"{losses[-1]:.3f}); check that the block's output depends on its input and that the "
               "residual path is intact", figures=figures))
  done(Check("training", True, figures=figures))
  ratios = {"time": cand_s / gpt_s,
            "memory": _ratio(cand.memory_bytes, gpt.memory_bytes),
            "flops": _ratio(cand.flops, gpt.flops)}
  platform = jax.default_backend()
  family: dict[str, float | None] = {}
  if settings.family in SEED_NAMES and any(
      ratios[w] is not None and ratios[w] > RATIO_LIMITS[w][1] for w in FAMILY_LIMITS):  # only when it matters
    seed_md = seed_design(settings.family).materialize()
    seed = _train_step(reference_program(seed_md, autosize(seed_md, scale).config, settings), scale, batches[0])
    family = {"memory": _ratio(cand.memory_bytes, seed.memory_bytes), "flops": _ratio(cand.flops, seed.flops)}
  for what, ratio in ratios.items():
    warn, reject = RATIO_LIMITS[what]
    figs = {f"{what}_ratio": None if ratio is None else round(ratio, 3)}
    rejects = what != "time" or platform in TIME_REJECTS_ON
    if what == "time":
      figs.update(step_seconds=round(cand_s, 5), gpt_step_seconds=round(gpt_s, 5), time_platform=platform)
    family_ratio = family.get(what)
    within_family = family_ratio is not None and family_ratio <= FAMILY_LIMITS[what]
    if family_ratio is not None:
      figs.update({"family": settings.family, f"family_{what}_ratio": round(family_ratio, 3)})
    if ratio is None or ratio <= warn:
      done(Check(what, True, figures=figs))
    else:
      limit = f"limit {reject:g}x" if rejects else f"a warning only on {platform}, where the cores are shared"
      beside = (f", {family_ratio:.2f}x its {settings.family} seed's (limit {FAMILY_LIMITS[what]:g}x"
                f"{', so it passes' if within_family else ''})" if family_ratio is not None else "")
      message = (f"{what} per training step is {ratio:.2f}x the GPT seed's at the same scale "
                 f"({limit}){beside}; use chunked or parallel forms instead of Python loops and avoid "
                 "[length x length x features] intermediates")
      done(Check(what, False, message, fatal=rejects and ratio > reject and not within_family, figures=figs))


def _alternating_step_seconds(a: probes.CompiledStep, b: probes.CompiledStep, batches, rounds: int = 5,
                              steps: int = 4) -> tuple[float, float]:
  """Fastest step seconds of `a` and `b`, timed in alternating rounds so a change in the machine's load
  falls on both; the minimum is each program's own cost, what other processes add only lengthens steps."""
  seconds_a, seconds_b = [], []
  for _ in range(rounds):
    seconds_a += a.time_steps(batches[:steps])[1]
    seconds_b += b.time_steps(batches[:steps])[1]
  return min(seconds_a), min(seconds_b)


def _ratio(a: float | None, b: float | None) -> float | None:
  return None if not a or not b else a / b


def program_fingerprint(block: Program) -> str:
  """A hash of an exported block's outputs on fixed inputs (its input shape) with its parameters."""
  batch, length, embed_dim = block.input.shape
  x = jax.random.normal(jax.random.key(0), (batch, length, embed_dim))
  y = np.round(np.asarray(jax.jit(block.exported.call)(block.params, x), dtype=np.float64), 4) + 0.0  # folds -0.0
  return hashlib.sha256(y.tobytes()).hexdigest()[:16]


def fingerprint(md: MaterializedDesign, length: int, embed_dim: int = 32) -> str:
  """A hash of the block's outputs on fixed inputs with a fixed init: equal for equal functions.

  Computed on the block's exported program, as the checker does, so a seed's fingerprint here equals the
  one the checker reports for the same block. `length` is the context the designs train on (the check
  rung's): blocks that differ only beyond it, such as attention windows as long as the context, count as
  equal; a shorter probe would also merge windows shorter than the context that do change the trained model.
  """
  block = md.build_block(embed_dim, (0, 1), nnx.Rngs(0))
  x = jax.ShapeDtypeStruct((2, length, embed_dim), jnp.float32)
  return program_fingerprint(export_module(block, x, lambda b, v: b(v)[0]))
