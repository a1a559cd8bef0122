"""Logical axes on every parameter; placement decided by rules over a (data, fsdp, tensor) mesh."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.sharding import PartitionSpec as P

from genesys_jax.gau.composer import LanguageModel, ModelConfig, abstract_model
from genesys_jax.gau.layers import LOGICAL_AXES
from genesys_jax.gau.sharding import DEFAULT_RULES, create_sharded, make_mesh, partition_spec
from genesys_jax.units.seeds import SEED_NAMES, seed_design


@pytest.mark.parametrize("seed", SEED_NAMES)
def test_every_parameter_has_logical_axes(seed):
  model = abstract_model(seed_design(seed), ModelConfig(64, 2, 260))
  for path, var in nnx.to_flat_state(nnx.state(model, nnx.Param)):
    axes = var.get_metadata().get("axes")
    assert axes is not None, f"{path} has no logical axes"
    assert len(axes) == len(var.shape), f"{path}: axes {axes} for shape {var.shape}"
    assert all(a is None or a in LOGICAL_AXES for a in axes), f"{path}: {axes}"


def test_partition_spec_rules():
  assert partition_spec(("embed", "mlp"), DEFAULT_RULES) == P("fsdp", "tensor")
  assert partition_spec(("batch", "length", "embed"), DEFAULT_RULES) == P(("data", "fsdp"), None, None)
  assert partition_spec(("heads", "kv", "mlp"), DEFAULT_RULES) == P("tensor", None, None)
  assert partition_spec(("embed", None), {"embed": None}) == P(None, None)
  with pytest.raises(ValueError, match="unknown logical axes"):
    partition_spec(("hidden",), DEFAULT_RULES)


def test_mesh_shapes():
  assert dict(make_mesh({"data": 2, "tensor": -1}).shape) == {"data": 2, "fsdp": 1, "tensor": 4}
  with pytest.raises(ValueError, match="needs 6 devices"):
    make_mesh({"data": 3, "tensor": 2})


@pytest.mark.parametrize("seed", ["gpt2", "mamba2"])
def test_sharded_model_matches_unsharded(seed):
  assert jax.device_count() == 8
  md = seed_design(seed).materialize()
  config = ModelConfig(64, 2, 260)
  mesh = make_mesh({"data": 2, "fsdp": 2, "tensor": 2})
  sharded = create_sharded(lambda: LanguageModel(md, config, rngs=nnx.Rngs(0)), mesh, DEFAULT_RULES)
  assert sharded.embed[...].sharding.spec == P("tensor", "fsdp")
  assert len(sharded.embed[...].addressable_shards) == 8
  plain = LanguageModel(md, config, rngs=nnx.Rngs(0))
  tokens = jax.random.randint(jax.random.key(0), (4, 16), 0, 260)
  graphdef, state = nnx.split(sharded)
  out = jax.jit(lambda s, t: nnx.merge(graphdef, s)(t))(state, tokens)
  np.testing.assert_allclose(out, nnx.jit(lambda m, t: m(t))(plain, tokens), atol=2e-5, rtol=2e-5)


def test_rules_not_unit_code_decide_placement():
  md = seed_design("gpt2").materialize()
  mesh = make_mesh({"data": 1, "fsdp": 8, "tensor": 1})
  model = create_sharded(lambda: LanguageModel(md, ModelConfig(64, 1, 260), rngs=nnx.Rngs(0)), mesh,
                         {**DEFAULT_RULES, "vocab": "fsdp", "embed": None})
  assert model.embed[...].sharding.spec == P("fsdp", None)
  assert model.blocks[0].mlp.w_down[...].sharding.spec == P(None, None)
