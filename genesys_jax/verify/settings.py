"""The `verify` section of a config: data, training, checkpoints, evaluation, diagnostics and mesh.

Configs include it with `config.verify = verify_config()` and override fields after. Zero for a
rung-dependent field (batch tokens, learning rate, token multiplier) means "the rung's own value".
"""

from __future__ import annotations

import jax
import ml_collections

from genesys_jax.gau.scales import SCALES
from genesys_jax.gau.sharding import DEFAULT_RULES, MESH_AXES, make_mesh


def _rule_text(target) -> str:
  return ",".join((target,) if isinstance(target, str) else tuple(target or ()))


def verify_config() -> ml_collections.ConfigDict:
  """Defaults that train and evaluate on the bundled corpus with the byte tokenizer."""
  c = ml_collections.ConfigDict()
  c.seed = 0

  c.data = ml_collections.ConfigDict()
  c.data.source = "bundled"            # 'bundled' (offline corpus in the package) or 'tfds'
  c.data.tfds_name = ""                # e.g. 'my_fineweb_edu' built with `tfds build` (array_record)
  c.data.tfds_data_dir = ""
  c.data.tfds_splits = ml_collections.ConfigDict({"train": "train", "validation": "validation", "test": "test"})
  c.data.text_key = "text"
  c.data.tokenizer = "byte"            # 'byte' or 'sentencepiece'
  c.data.tokenizer_model = ""          # a SentencePiece .model file
  c.data.shards = 0                    # document shards each global batch draws its rows from, in equal parts
                                       # (0: one per process); a fixed number makes a run's data, and so its
                                       # results, the same on any number of hosts that divides it
  c.data.prefetch = 4                  # training batches a background thread packs ahead (0: in the loop)
  c.data.workers = 0                   # processes that encode and pack training batches (0: the thread);
                                       # the batches' order depends on the number (see verify/pipeline.py)

  c.train = ml_collections.ConfigDict()
  c.train.batch_tokens = 0             # tokens per optimizer step (0: the rung's)
  c.train.learning_rate = 0.0          # peak learning rate (0: the rung's)
  c.train.token_multiplier = 0         # training tokens = parameters x this (0: the rung's)
  c.train.max_steps = 0                # cap on the steps (0: none); for smoke runs
  c.train.warmup_fraction = 0.05
  c.train.final_lr_fraction = 0.1
  c.train.b1 = 0.9
  c.train.b2 = 0.95
  c.train.weight_decay = 0.1
  c.train.clip_norm = 1.0
  c.train.compute_dtype = "auto"       # bfloat16 on GPU/TPU, float32 on CPU
  c.train.divergence_factor = 2.0      # loss above this x the first step's ends the run as diverged
  c.train.memory_fraction = 0.9        # the compile gate rejects steps needing more of a device
  c.train.micro_batch = 0              # rows per accumulation micro-batch (0: the largest that fits)
  c.train.device_memory_gib = 0.0      # a device's memory the compile gate plans for (0: what it reports)
  c.train.log_every = 10

  c.checkpoint = ml_collections.ConfigDict()
  c.checkpoint.every_steps = 50
  c.checkpoint.keep = 2

  c.eval = ml_collections.ConfigDict()
  c.eval.max_batches = 40              # per held-out split
  c.eval.task_files = ()               # JSONL multiple-choice tasks (name = file stem)
  c.eval.tfds_tasks = ()               # e.g. ('hellaswag', 'piqa') built in eval.tfds_data_dir
  c.eval.tfds_data_dir = ""
  c.eval.task_limit = 500              # examples per task

  c.diagnostics = ml_collections.ConfigDict()
  c.diagnostics.enabled = True
  c.diagnostics.tasks = ("mqar", "selective_copying", "induction_heads")
  c.diagnostics.scale = ""             # the rung whose model size the diagnostics train ('': the rung
                                       # verified, which is the run's lowest)
  c.diagnostics.steps = 400
  c.diagnostics.batch = 32
  c.diagnostics.length = 32
  c.diagnostics.vocab = 260            # token ids the tasks use (at most the model's vocabulary)
  c.diagnostics.learning_rate = 3e-3
  c.diagnostics.eval_batches = 8
  c.diagnostics.mqar = ml_collections.ConfigDict({"num_pairs": 0, "power_a": 0.0})  # 0: the task's default
  c.diagnostics.stop_accuracy = 0.0    # > 0: stop once every task reaches it held out
  c.diagnostics.eval_every = 100       # steps between those held-out checks

  c.mesh = ml_collections.ConfigDict({axis: -1 if axis == "data" else 1 for axis in MESH_AXES})
  c.sharding_rules = ml_collections.ConfigDict({k: _rule_text(v) for k, v in DEFAULT_RULES.items()})
  return c


def sharding_rules(c: ml_collections.ConfigDict) -> dict[str, tuple[str, ...] | None]:
  """The config's logical-axis rules ('data,fsdp' -> ('data', 'fsdp'); '' -> replicated)."""
  return {k: tuple(p for p in v.split(",") if p) or None for k, v in c.sharding_rules.items()}


def validate(c: ml_collections.ConfigDict) -> None:
  """Raises ValueError with one sentence for the first value out of range."""
  checks = [
      (c.train.batch_tokens >= 0, "train.batch_tokens must be 0 (the rung's) or positive"),
      (c.train.learning_rate >= 0, "train.learning_rate must be 0 (the rung's) or positive"),
      (c.train.token_multiplier >= 0, "train.token_multiplier must be 0 (the rung's) or positive"),
      (c.train.max_steps >= 0, "train.max_steps must be 0 (no cap) or positive"),
      (0 <= c.train.warmup_fraction < 1, "train.warmup_fraction must be in [0, 1)"),
      (0 <= c.train.final_lr_fraction <= 1, "train.final_lr_fraction must be in [0, 1]"),
      (0 <= c.train.b1 < 1 and 0 <= c.train.b2 < 1, "train.b1 and train.b2 must be in [0, 1)"),
      (c.train.weight_decay >= 0, "train.weight_decay must not be negative"),
      (c.train.clip_norm > 0, "train.clip_norm must be positive"),
      (c.train.divergence_factor > 1, "train.divergence_factor must be above 1"),
      (0 < c.train.memory_fraction <= 1, "train.memory_fraction must be in (0, 1]"),
      (c.train.micro_batch >= 0, "train.micro_batch must be 0 (the largest that fits) or positive"),
      (c.train.device_memory_gib >= 0, "train.device_memory_gib must be 0 (what the device reports) or positive"),
      (c.train.log_every >= 1, "train.log_every must be at least 1"),
      (c.data.shards >= 0, "data.shards must be 0 (one per process) or positive"),
      (c.data.prefetch >= 0, "data.prefetch must be 0 (none) or positive"),
      (c.data.workers >= 0, "data.workers must be 0 (none) or positive"),
      (c.checkpoint.every_steps >= 1, "checkpoint.every_steps must be at least 1"),
      (c.checkpoint.keep >= 1, "checkpoint.keep must be at least 1"),
      (c.eval.max_batches >= 1, "eval.max_batches must be at least 1"),
      (c.eval.task_limit >= 1, "eval.task_limit must be at least 1"),
      (c.diagnostics.steps >= 1 and c.diagnostics.batch >= 1 and c.diagnostics.eval_batches >= 1,
       "diagnostics.steps, .batch and .eval_batches must be at least 1"),
      (6 <= c.diagnostics.vocab, "diagnostics.vocab must be at least 6"),
      (c.diagnostics.mqar.num_pairs >= 0 and c.diagnostics.mqar.power_a >= 0,
       "diagnostics.mqar.num_pairs and .power_a must be 0 (the task's default) or positive"),
      (not c.diagnostics.scale or c.diagnostics.scale in SCALES,
       f"diagnostics.scale must be '' (the rung verified) or one of {', '.join(SCALES)}"),
      (c.diagnostics.eval_every >= 1 and 0 <= c.diagnostics.stop_accuracy <= 1,
       "diagnostics.eval_every must be at least 1 and diagnostics.stop_accuracy between 0 and 1"),
      (all(v == -1 or v >= 1 for v in c.mesh.values()), "mesh sizes must be -1 (the rest) or positive"),
      (set(c.sharding_rules) <= set(DEFAULT_RULES), f"sharding_rules may only name {sorted(DEFAULT_RULES)}"),
      (all(p in MESH_AXES for v in c.sharding_rules.values() for p in v.split(",") if p),
       f"sharding_rules may only map to the mesh axes {MESH_AXES}"),
  ]
  for ok, message in checks:
    if not ok:
      raise ValueError(message)


def make_run_mesh(c: ml_collections.ConfigDict):
  """The config's mesh: over all devices when an axis is -1, else over the first devices it needs."""
  sizes = c.mesh.to_dict()
  if -1 in sizes.values():
    return make_mesh(sizes)
  needed = 1
  for s in sizes.values():
    needed *= s
  if needed > jax.device_count():
    raise ValueError(f"the mesh {sizes} needs {needed} devices; {jax.device_count()} are available")
  return make_mesh(sizes, jax.devices()[:needed])
