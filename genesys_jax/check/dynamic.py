"""The dynamic checks, run inside the sandbox on a design that passed static vetting.

Stages run in order and stop at the first fatal failure; each emits a `Check` as soon as it is done.
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
from flax import nnx

from genesys_jax.check import probes
from genesys_jax.check.report import Check
from genesys_jax.gau.composer import LanguageModel, ModelConfig
from genesys_jax.gau.design import MaterializedDesign, load_design
from genesys_jax.gau.errors import DesignError
from genesys_jax.gau.scales import get_scale
from genesys_jax.gau.sizing import autosize
from genesys_jax.units.library import library_sources
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


class Rejected(Exception):
  """Stops the stages after a fatal check."""


def run_checks(design_path: str, settings: CheckSettings, emit: Callable[[Check], None],
               stage: Callable[[str], None] = lambda name: None) -> None:
  """Runs every stage on the design at `design_path`, emitting checks; stops at the first fatal one."""
  def done(check: Check) -> None:
    emit(check)
    if not check.ok and check.fatal:
      raise Rejected(check.name)

  try:
    stage("load")
    md = _load(design_path, done)
    stage("unit_tests")
    _unit_tests(md, done)
    scale = get_scale(settings.scale)
    rung = ModelConfig.from_scale(scale)
    key = jax.random.key(settings.seed)
    tokens = jax.random.randint(key, (settings.batch, settings.length), 0, rung.vocab_size)
    stage("forward")
    small_model, forward = _forward(md, settings, rung, tokens, done)
    stage("causality")
    _causality(forward, md, settings, tokens, rung.vocab_size, done)
    stage("differentiability")
    _gradients(small_model, tokens, done)
    stage("parameter_band")
    config = _band(md, scale, done)
    stage("compile")
    _effectiveness(md, config, scale, settings, done, stage)
    stage("fingerprint")
    done(Check("fingerprint", True, "", figures={"fingerprint": fingerprint(md, scale.seq_len)}))
  except Rejected:
    return


def _load(path: str, done: Callable[[Check], None]) -> MaterializedDesign:
  try:
    md = load_design(path).materialize()
  except DesignError as e:
    done(Check("load", False, str(e)))
  done(Check("load", True))
  return md


def _unit_tests(md: MaterializedDesign, done: Callable[[Check], None]) -> None:
  """Runs the tests of unit files that differ from the library's (library files are tested there)."""
  known = {f for f, src in md.design.files.items() if src in library_sources()}
  failures = [f"{u}.{t}: {e}" for u, t, e in md.run_unit_tests(skip_files=known) if e is not None]
  done(Check("unit_tests", not failures, "; ".join(failures), fatal=False,
             figures={"unit_test_files_skipped_as_library": sorted(known)}))


def _band(md: MaterializedDesign, scale, done) -> ModelConfig:
  try:
    sized = autosize(md, scale)
  except DesignError as e:
    done(Check("parameter_band", False, f"{e.detail}; make the block's parameter count scale with "
               "embed_dim like a Transformer block (about 12 * embed_dim^2)"))
  done(Check("parameter_band", True, figures={
      "params": sized.params, "reference_params": sized.reference, "ratio": round(sized.ratio, 4),
      "embed_dim": sized.config.embed_dim, "n_layers": sized.config.n_layers}))
  return sized.config


def _forward(md, settings: CheckSettings, config: ModelConfig, tokens, done):
  """Builds and runs the model at a small size (one block) and at the rung's GPT shape; returns the small
  model (for the gradient stage) and the rung model's jitted forward (for the causality stage)."""
  models = []
  for cfg in (ModelConfig(settings.small_embed_dim, 1, config.vocab_size), config):
    where = f"at embed_dim {cfg.embed_dim} x {cfg.n_layers} layers"
    try:
      models.append(LanguageModel(md, cfg, rngs=nnx.Rngs(settings.seed)))
      forward = probes.jitted_forward(models[-1], probes.fast_compile_options())
      logits = forward(tokens)
    except Exception as e:  # unit code can fail in any way
      text = str(e) if isinstance(e, DesignError) else f"{type(e).__name__}: {e}"
      hint = (" (out of memory under the sandbox's memory limit; allocate less)"
              if isinstance(e, MemoryError) or "RESOURCE_EXHAUSTED" in text else "")
      done(Check("forward", False, f"{where}: {text[:600]}{hint}"))
    if logits.shape != tokens.shape + (cfg.vocab_size,):
      done(Check("forward", False, f"{where}: logits have shape {logits.shape}"))
    if not bool(jnp.all(jnp.isfinite(logits))):
      done(Check("forward", False, f"{where}: the output has NaN or Inf values at initialization; check "
                 "divisions, logs, square roots and exponentials for unguarded inputs"))
  done(Check("forward", True))
  return models[0], forward


def _causality(forward, md, settings: CheckSettings, tokens, vocab: int, done) -> None:
  step = max(1, (settings.length - 1) // settings.causality_positions)
  leaks = probes.causality_leaks(forward, tokens, range(0, settings.length - 1, step), vocab)
  if leaks:
    done(Check("causality", False, f"outputs at positions {leaks[:5]} change when only later tokens change: "
               "the block reads the future. Mask attention scores with a lower-triangular mask, pad "
               "convolutions on the left only, and never pool or normalize over the length axis"))
  block = md.build_block(settings.small_embed_dim, (0, 1), nnx.Rngs(settings.seed))
  x = jax.random.normal(jax.random.key(settings.seed + 1), (1, settings.jacobian_length, settings.small_embed_dim))
  pairs = []
  for dtype in (jnp.float32, jnp.bfloat16):  # the accelerators train in bfloat16: a block must be causal there too
    pairs = pairs or probes.jacobian_leaks(block, x.astype(dtype), probes.fast_compile_options())
  if pairs:
    done(Check("causality", False, f"the Jacobian shows output t depending on input s > t for (t, s) in "
               f"{pairs[:5]}: a leak too small for the perturbation test, e.g. a mean or norm over the "
               "length axis"))
  done(Check("causality", True))


def _gradients(model: LanguageModel, tokens, done) -> None:
  report = probes.gradient_report(model, tokens, probes.fast_compile_options())
  if report.nonfinite:
    done(Check("differentiability", False, f"non-finite gradients for {report.nonfinite[:5]}; guard "
               "divisions, logs and square roots (add eps) and clip exponents"))
  graphdef, state = nnx.split(model)
  forward = jax.jit(lambda s, t: nnx.merge(graphdef, s)(t), compiler_options=probes.fast_compile_options())
  flat = {".".join(map(str, path)): (path, var) for path, var in nnx.to_flat_state(state)}
  reference = forward(state, tokens) if report.zero else None
  blocked = []
  for name in report.zero:  # a parameter with no gradient: unused, or used but cut off from the loss?
    path, var = flat[name]
    bumped = dict(v for v in flat.values())
    bumped[path] = var.replace(var[...] + 1.0)
    if not np.allclose(forward(nnx.from_flat_state(list(bumped.items())), tokens), reference):
      blocked.append(name)
  if blocked:
    done(Check("differentiability", False, f"parameters {blocked[:5]} change the output but get no gradient; "
               "remove stop_gradient or non-differentiable ops (argmax, rounding, integer casts) on their path"))
  unused = [n for n in report.zero if n not in blocked]
  done(Check("differentiability", True, f"unused parameters (never affect the output; remove them): {unused[:10]}"
             if unused else "", figures={"unused_parameters": unused}))


def _effectiveness(md, config: ModelConfig, scale, settings: CheckSettings, done, stage) -> None:
  key = jax.random.key(settings.seed + 2)
  batches = probes.text_batches(probes.library_text(), key, settings.train_steps, settings.batch, settings.length + 1)
  runs = {}
  for name, design in (("candidate", md), ("gpt", vanilla_gpt().materialize())):
    cfg = config if name == "candidate" else ModelConfig.from_scale(scale)
    model = LanguageModel(design, cfg, rngs=nnx.Rngs(settings.seed))
    try:
      compiled = probes.compile_train_step(model, scale.learning_rate, batches[0], probes.fast_compile_options())
    except Exception as e:  # compile failures of unit code
      done(Check("compile", False, f"the training step does not compile: {type(e).__name__}: {e}"))
    losses, _ = compiled.time_steps(batches)
    runs[name] = (compiled, losses)
    if name == "candidate":
      done(Check("compile", True, figures={"compile_seconds": round(compiled.compile_seconds, 2),
                                           "memory_bytes": compiled.memory_bytes, "flops": compiled.flops}))
      stage("training")
  (cand, losses), (gpt, gpt_losses) = runs["candidate"], runs["gpt"]
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
    family = _family_ratios(cand, settings, scale, batches[0])
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


def _family_ratios(cand: probes.CompiledStep, settings: CheckSettings, scale, batch) -> dict[str, float | None]:
  """The candidate's memory and FLOPs over those of its family seed, sized to the same rung."""
  md = seed_design(settings.family).materialize()
  model = LanguageModel(md, autosize(md, scale).config, rngs=nnx.Rngs(settings.seed))
  seed = probes.compile_train_step(model, scale.learning_rate, batch, probes.fast_compile_options())
  return {"memory": _ratio(cand.memory_bytes, seed.memory_bytes), "flops": _ratio(cand.flops, seed.flops)}


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


def fingerprint(md: MaterializedDesign, length: int, embed_dim: int = 32) -> str:
  """A hash of the block's outputs on fixed inputs with a fixed init: equal for equal functions.

  `length` is the context the designs train on (the check rung's): blocks that differ only beyond it,
  such as attention windows as long as the context, count as equal; a shorter probe would also merge
  windows shorter than the context that do change the trained model.
  """
  graphdef, state = nnx.split(md.build_block(embed_dim, (0, 1), nnx.Rngs(0)))
  x = jax.random.normal(jax.random.key(0), (2, length, embed_dim))
  y_BxLxD = jax.jit(lambda s, v: nnx.merge(graphdef, s)(v)[0])(state, x)
  y = np.round(np.asarray(y_BxLxD, dtype=np.float64), 4) + 0.0  # +0.0 folds -0.0 into 0.0
  return hashlib.sha256(y.tobytes()).hexdigest()[:16]
