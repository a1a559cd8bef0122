"""The paper's run: the 14M-350M ladder, LLM designers, a 32k SentencePiece corpus and benchmark tasks.

    GEMINI_API_KEY=... python -m genesys_jax.main --config configs/paper.py --workdir runs/paper \
        --config.verify.data.tfds_name=smollm_corpus --config.verify.data.tfds_data_dir=$HOME/tfds \
        --config.verify.data.tokenizer_model=$HOME/spm32k.model --config.verify.eval.tfds_data_dir=$HOME/tfds
    python -m genesys_jax.main --config configs/paper.py:offline ...   # no API key: the offline designer

Variants after the colon, comma-separated: `offline` (the offline designer instead of the LLM flow) and
`random` (parents and promotions drawn uniformly: the paper's non-evolutionary baseline).

Its sweep is the paper's two ablations at once: the unit-by-unit design flow (`llm`) against one-shot
design (`direct`), each under evolutionary and random selection (four full runs; no variants):

    GEMINI_API_KEY=... python -m genesys_jax.sweep --config configs/paper.py --workdir runs/paper_ablations \
        --config.verify.data.tfds_name=smollm_corpus ...   # the same data flags as above, for every run

Five seeds, then 256 new designs verified at 14M, 64 promoted to 31M, 16 to 70M, 4 to 125M and 1 to
350M (the paper's budget: 1 at the top, x4 per rung down), the two best seeds climbing alongside as
reference rows. This file is device-agnostic (a data-parallel mesh over every local device); see
configs/gpu.py and configs/tpu.py for a GPU node and a TPU pod slice.

The data is the user's to supply (nothing is downloaded at run time); the paper trained on a SmolLM
subset (cosmopedia-v2, python-edu, fineweb-edu-dedup, ...) with the 32k Llama-2 vocabulary:

  1. Export the corpus to JSONL (one `{"text": ...}` per line) and build a tfds corpus from it:
       python -m genesys_jax.verify.build_corpus --name smollm_corpus --data_dir $HOME/tfds \
           --train train-00.jsonl,train-01.jsonl --validation val.jsonl --test test.jsonl
  2. Train a 32k SentencePiece model on a sample of the training text (one shard of a few GB is plenty):
       python -c "from genesys_jax.verify.build_corpus import read_documents as r; \
           from genesys_jax.verify.tokenizer import train_sentencepiece as t; \
           t(r(['train-00.jsonl']), '$HOME/spm32k', 32000)"
  3. Build the benchmark tasks (array_record, so they can be read at random) into one directory:
       tfds build hellaswag piqa ai2_arc winogrande openbookqa lambada huggingface:sciq \
           --data_dir $HOME/tfds --file_format array_record
  Then set the four paths left empty below (verify.data.tfds_name, .tfds_data_dir, .tokenizer_model and
  verify.eval.tfds_data_dir) here or with `--config.` overrides as above.
"""

import ml_collections

from genesys_jax.agents.settings import agents_config
from genesys_jax.check.settings import check_config
from genesys_jax.evolve.settings import STRATEGIES, evolve_config
from genesys_jax.verify.settings import verify_config

VARIANTS = ("offline", "random")
BENCHMARKS = ("lambada", "hellaswag", "piqa", "arc_easy", "arc_challenge", "winogrande", "openbookqa", "sciq")
"""The paper's zero-shot multiple-choice tasks that have TFDS builders (verify/multiple_choice.py)."""


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  variants = [v for v in (arg or "").split(",") if v]
  unknown = [v for v in variants if v not in VARIANTS]
  if unknown:
    raise ValueError(f"unknown config variant(s) {unknown} of the paper config; choose from {', '.join(VARIANTS)} "
                     "(comma-separated, e.g. configs/paper.py:offline,random)")
  config = ml_collections.ConfigDict()

  config.evolve = evolve_config()
  config.evolve.ladder = "paper"
  config.evolve.rungs = ("14M", "31M", "70M", "125M", "350M")
  config.evolve.budget.top = 1                # 350M:1, 125M:4, 70M:16, 31M:64, 14M:256
  config.evolve.budget.ratio = 0.25
  config.evolve.budget.reference_seeds = 2
  config.evolve.workers.designers = 4         # LLM sessions wait on the network (the original: 4 designs a verify)
  config.evolve.workers.verifiers = 1         # one process owning all of the node's accelerators

  config.agents = agents_config()
  config.agents.designer = "llm"              # the unit-by-unit flow on Gemini (google-genai; GEMINI_API_KEY)
  config.agents.llm.backend = "gemini"
  config.agents.llm.api_key_env = "GEMINI_API_KEY"
  config.agents.budget_usd = 1000.0           # ~770 sessions at most (256 slots x 3) at a dollar or two each

  config.check = check_config()
  config.check.scale = "14M"                  # new designs are checked at the lowest rung they will train at
  config.check.timeout_s = 900.0              # room for a 32k-vocabulary model (micro1: 260 tokens)

  config.verify = verify_config()
  config.verify.seed = 42                     # the original's training seed
  config.verify.data.source = "tfds"
  config.verify.data.tfds_name = ""           # the user's corpus, built with genesys_jax.verify.build_corpus
  config.verify.data.tfds_data_dir = ""
  config.verify.data.tokenizer = "sentencepiece"
  config.verify.data.tokenizer_model = ""     # a 32000-piece .model from verify.tokenizer.train_sentencepiece
  # The original's optimizer: HF AdamW (betas 0.9/0.999, no weight decay), 2% warmup, cosine to 0.1x.
  config.verify.train.b2 = 0.999
  config.verify.train.weight_decay = 0.0
  config.verify.train.warmup_fraction = 0.02
  config.verify.train.final_lr_fraction = 0.1
  config.verify.eval.tfds_tasks = BENCHMARKS
  config.verify.eval.tfds_data_dir = ""       # where `tfds build` put the tasks
  config.verify.diagnostics.enabled = True    # rung 0: the synthetic tasks, seconds on an accelerator

  if "offline" in variants:
    config.agents.designer = "offline"
    config.agents.budget_usd = 0.0
  if "random" in variants:
    config.evolve.selection.strategy = "random"
  config.lock()
  return config


def get_sweep(arg: str | None = None) -> list[dict[str, object]]:
  """Design flow x selection: the LLM unit-by-unit flow and one-shot design, each evolutionary and random."""
  if arg:
    raise ValueError("the paper sweep sets the designer and the selection itself; use it without variants")
  return [{"agents.designer": designer, "evolve.selection.strategy": strategy}
          for designer in ("llm", "direct") for strategy in STRATEGIES]
