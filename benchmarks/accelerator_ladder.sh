#!/usr/bin/env bash
# The paper's ladder on one GPU or TPU host, as one short run (about 10 minutes on an H200):
#   1. the compile gate's plan for 14M / 125M / 350M at context 2048 and 0.5M-token steps (nothing allocated);
#   2. the GPT seed's training step timed at each rung: tokens/s, MFU, peak memory, compile time;
#   3. one whole paper-config verification of the GPT seed at 14M (bundled corpus, byte tokens), by phase.
# Usage: bash benchmarks/accelerator_ladder.sh [PYTHON]   (from the repository root, after `pip install -e '.[cuda]'`)
set -euo pipefail
PY="${1:-python}"
export XLA_PYTHON_CLIENT_MEM_FRACTION="${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.95}"
"$PY" -c "import jax; print(jax.devices())"
timeout 300 "$PY" benchmarks/mfu.py --plan_only
timeout 600 "$PY" benchmarks/mfu.py --steps 10
timeout 600 "$PY" benchmarks/mfu.py --scales 14M --steps 2 --verify_steps 0
