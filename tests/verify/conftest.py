"""Tiny verification settings shared by the verify tests."""

import ml_collections
import pytest

from genesys_jax.units.seeds import seed_design
from genesys_jax.verify.settings import verify_config


def tiny_config(**train) -> ml_collections.ConfigDict:
  """A verification that trains a few steps on one device and evaluates on two batches."""
  c = verify_config()
  c.mesh.data = 1
  c.train.max_steps = 12
  c.train.batch_tokens = 8 * 128
  c.train.log_every = 2
  c.checkpoint.every_steps = 4
  c.eval.max_batches = 2
  c.diagnostics.steps = 6
  c.diagnostics.batch = 6
  c.diagnostics.length = 32
  c.diagnostics.eval_batches = 1
  for k, v in train.items():
    c.train[k] = v
  return c


@pytest.fixture
def gpt2_dir(tmp_path):
  return seed_design("gpt2").save(tmp_path / "designs" / "gpt2")
