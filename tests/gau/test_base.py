"""The GAU base class: shape validation, Z filtering and merging, child slots."""

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from genesys_jax.gau import ChildDecl, DesignError, GAUBase, UnitShapeError
from genesys_jax.gau.design import UnitSpec, design_from_source
from genesys_jax.gau.layers import param, params_key


class Scale2(GAUBase):
  def _forward(self, X, gain=None):
    return X * (2.0 if gain is None else gain), {"seen_gain": gain is not None}


class Truncate(GAUBase):
  def _forward(self, X):
    return X[:, :-1]


def _unit(cls, d=4):
  return cls(d, (0, 1), rngs=nnx.Rngs(0))


def test_returns_y_and_merged_z():
  Y, Z = _unit(Scale2)(jnp.ones((2, 3, 4)), gain=3.0, other="kept")
  assert float(Y[0, 0, 0]) == 3.0
  assert Z == {"gain": 3.0, "other": "kept", "seen_gain": True}


def test_unit_receives_only_named_z_entries():
  class Strict(GAUBase):
    def _forward(self, X):  # would raise TypeError if given unexpected keywords
      return X
  Y, Z = _unit(Strict)(jnp.ones((1, 2, 4)), unrelated=1)
  assert Z == {"unrelated": 1}


def test_rejects_wrong_input_shape():
  with pytest.raises(UnitShapeError, match=r"unit 'Scale2'.*\[batch, length, 4\]"):
    _unit(Scale2)(jnp.ones((2, 3, 5)))
  with pytest.raises(UnitShapeError):
    _unit(Scale2)(jnp.ones((3, 4)))


def test_rejects_wrong_output_shape():
  with pytest.raises(UnitShapeError, match="unit 'Truncate'.*shaped like X"):
    _unit(Truncate)(jnp.ones((2, 3, 4)))


def test_overriding_call_is_refused():
  with pytest.raises(TypeError, match="overrides __call__"):
    class Bad(GAUBase):  # noqa: F841
      def __call__(self, X, **Z):
        return X, Z


def test_make_child_needs_declared_slot_and_a_design():
  class Parent(GAUBase):
    CHILDREN = (ChildDecl("inner", "Scale2"),)

    def __init__(self, embed_dim, block_loc, *, rngs, slot="inner"):
      super().__init__(embed_dim, block_loc, rngs=rngs)
      self.inner = self.make_child(slot, rngs)

  with pytest.raises(DesignError, match="through a Design"):
    Parent(4, (0, 1), rngs=nnx.Rngs(0))
  with pytest.raises(DesignError, match="undeclared slot"):
    Parent(4, (0, 1), rngs=nnx.Rngs(0), slot="missing")


def test_children_are_built_from_the_design_tree():
  src = '''
from genesys_jax.gau import ChildDecl, GAUBase

class Double(GAUBase):
  def _forward(self, X):
    return 2 * X

class Triple(GAUBase):
  def _forward(self, X):
    return 3 * X

class Root(GAUBase):
  CHILDREN = (ChildDecl("f", "Double"),)
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.f = self.make_child("f", rngs)
  def _forward(self, X, **Z):
    return self.f(X, **Z)

ROOT = Root
'''
  design = design_from_source(src, name="toy")
  assert set(design.units) == {"Root", "Double"}
  X = jnp.ones((1, 2, 4))
  Y, _ = design.materialize().build_block(4, (0, 1), nnx.Rngs(0))(X)
  assert float(Y[0, 0, 0]) == 2.0
  swapped = design.replace(units={"Root": UnitSpec("block.py", {"f": "Triple"}), "Triple": UnitSpec("block.py")})
  Y, _ = swapped.materialize().build_block(4, (0, 1), nnx.Rngs(0))(X)
  assert float(Y[0, 0, 0]) == 3.0
  assert swapped.content_hash() != design.content_hash()


def test_param_keys_are_flax_own_and_init_under_a_trace_stays_linear():
  ours, flax_own = nnx.Rngs(3), nnx.Rngs(3)
  for _ in range(3):
    assert jnp.array_equal(jax.random.key_data(params_key(ours)), jax.random.key_data(flax_own.params()))
  assert int(ours.params.count[...]) == int(flax_own.params.count[...]) == 3
  # under a trace (as nnx.eval_shape traces a model's init) no tracer's sharding is looked up
  traced = nnx.eval_shape(lambda: [param(nnx.Rngs(3), (2,), (None,)) for _ in range(2)])
  assert [p.shape for p in traced] == [(2,), (2,)]
  lookups = []
  original = jax.core.Tracer.sharding
  try:
    jax.core.Tracer.sharding = property(lambda self: lookups.append(1) or original.fget(self))
    nnx.eval_shape(lambda: param(nnx.Rngs(0), (4, 4), ("embed", "mlp")))
  finally:
    jax.core.Tracer.sharding = original
  assert not lookups
