"""Designs on disk: save/load round trip, block files, content hashes, and clear errors on bad input."""

import json

import jax.numpy as jnp
import pytest
from flax import nnx

from genesys_jax.gau import DesignError
from genesys_jax.gau.design import Lineage, load_design
from genesys_jax.units.seeds import seed_design

BLOCK_FILE = '''
import jax.numpy as jnp
from genesys_jax.gau import ChildDecl, GAUBase, param

class Gain(GAUBase):
  def __init__(self, embed_dim, block_loc, *, rngs, init: float = 1.0):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.g = param(rngs, (embed_dim,), ("embed",), lambda k, s, d: jnp.full(s, init, d))
  def _forward(self, X):
    return X * self.g[...]

class Residual(GAUBase):
  CHILDREN = (ChildDecl("inner", "Gain"),)
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.inner = self.make_child("inner", rngs)
  def _forward(self, X, **Z):
    Y, Z = self.inner(X, **Z)
    return X + Y, Z

ROOT = "Residual"
'''


def test_save_load_round_trip_keeps_hash(tmp_path):
  design = seed_design("rwkv6").replace(lineage=Lineage(parents=("abc",), operator="mutation",
                                                       changed_units=("RWKV6TimeMix",)))
  design.save(tmp_path / "d")
  manifest = json.loads((tmp_path / "d" / "design.json").read_text())
  assert manifest["content_hash"] == design.content_hash()
  assert sorted(p.name for p in (tmp_path / "d").iterdir()) == sorted(["design.json", *design.files])
  loaded = load_design(tmp_path / "d")
  assert loaded == design
  assert loaded.content_hash() == design.content_hash()


def test_hash_is_stable_and_tracks_what_the_design_computes():
  a, b = seed_design("gpt2"), seed_design("gpt2")
  assert a.content_hash() == b.content_hash()
  assert a.replace(name="other", lineage=Lineage(operator="x")).content_hash() == a.content_hash()
  reformatted = {f: s.replace("\n", "  \r\n") for f, s in a.files.items()}
  assert a.replace(files=reformatted).content_hash() == a.content_hash()
  changed = dict(a.files, **{"mha.py": a.files["mha.py"].replace("10000.0", "500.0")})
  assert a.replace(files=changed).content_hash() != a.content_hash()
  hp = dict(a.units, MHA=a.units["MHA"].__class__(file="mha.py", hparams={"head_dim": 16}))
  assert a.replace(units=hp).content_hash() != a.content_hash()
  assert len({seed_design(n).content_hash() for n in ("gpt2", "mamba2", "retnet", "rwkv6", "ttt")}) == 5


def test_block_file_with_root(tmp_path):
  path = tmp_path / "my_block.py"
  path.write_text(BLOCK_FILE)
  design = load_design(path)
  assert design.name == "my_block" and design.root == "Residual"
  assert dict(design.units["Residual"].children) == {"inner": "Gain"}
  block = design.materialize().build_block(4, (0, 1), nnx.Rngs(0))
  Y, _ = block(jnp.ones((1, 3, 4)))
  assert float(Y[0, 0, 0]) == 2.0
  design.save(tmp_path / "saved")
  assert load_design(tmp_path / "saved").content_hash() == design.content_hash()


def test_hparams_from_manifest_reach_the_unit(tmp_path):
  path = tmp_path / "b.py"
  path.write_text(BLOCK_FILE)
  design = load_design(path)
  design = design.replace(units={**design.units, "Gain": design.units["Gain"].__class__(
      file="b.py", hparams={"init": 5.0})})
  Y, _ = design.materialize().build_block(4, (0, 1), nnx.Rngs(0))(jnp.ones((1, 2, 4)))
  assert float(Y[0, 0, 0]) == 6.0


def _saved(tmp_path, name="gpt2"):
  return seed_design(name).save(tmp_path / name)


def test_missing_unit_file(tmp_path):
  d = _saved(tmp_path)
  (d / "mha.py").unlink()
  with pytest.raises(DesignError, match=r"design 'gpt2', unit 'MHA': unit file mha.py is missing"):
    load_design(d)


def test_manifest_that_does_not_parse(tmp_path):
  d = _saved(tmp_path)
  (d / "design.json").write_text("{not json")
  with pytest.raises(DesignError, match="design 'gpt2'.*does not parse"):
    load_design(d)


def test_manifest_missing_fields(tmp_path):
  d = _saved(tmp_path)
  (d / "design.json").write_text(json.dumps({"name": "gpt2", "units": {}}))
  with pytest.raises(DesignError, match="malformed.*'root'"):
    load_design(d)


def test_cycle(tmp_path):
  d = _saved(tmp_path)
  m = json.loads((d / "design.json").read_text())
  m["units"]["MHA"]["children"] = {"loop": "PreNormBlock"}
  (d / "design.json").write_text(json.dumps(m))
  with pytest.raises(DesignError, match="cycle: PreNormBlock -> MHA -> PreNormBlock"):
    load_design(d)


def test_unknown_child(tmp_path):
  d = _saved(tmp_path)
  m = json.loads((d / "design.json").read_text())
  m["units"]["PreNormBlock"]["children"]["mixer"] = "Nope"
  (d / "design.json").write_text(json.dumps(m))
  with pytest.raises(DesignError, match="unit 'PreNormBlock'.*'Nope' is used but not defined"):
    load_design(d)


def test_root_that_is_not_a_gau(tmp_path):
  (tmp_path / "x.py").write_text("class Block:\n  pass\nROOT = Block\n")
  with pytest.raises(DesignError, match="design 'x', unit 'Block': ROOT 'Block' is not a GAU class"):
    load_design(tmp_path / "x.py")
  (tmp_path / "y.py").write_text(BLOCK_FILE.replace('ROOT = "Residual"', ""))
  with pytest.raises(DesignError, match="module-level ROOT"):
    load_design(tmp_path / "y.py")


def test_manifest_unit_class_missing(tmp_path):
  d = _saved(tmp_path)
  (d / "mha.py").write_text("X = 1\n")
  with pytest.raises(DesignError, match="unit 'MHA': mha.py must define a class 'MHA' that subclasses GAUBase"):
    load_design(d).materialize()


def test_slots_must_match_declarations(tmp_path):
  d = _saved(tmp_path)
  m = json.loads((d / "design.json").read_text())
  del m["units"]["PreNormBlock"]["children"]["norm2"]
  (d / "design.json").write_text(json.dumps(m))
  with pytest.raises(DesignError, match=r"unit 'PreNormBlock': manifest fills child slots .* declares"):
    load_design(d).materialize()


def test_syntax_error_names_file_and_line(tmp_path):
  d = _saved(tmp_path)
  (d / "gated_mlp.py").write_text("def broken(:\n")
  with pytest.raises(DesignError, match="gated_mlp.py line 1: syntax error"):
    load_design(d).materialize()


def test_unit_with_wrong_output_shape(tmp_path):
  (tmp_path / "bad.py").write_text(
      "from genesys_jax.gau import GAUBase\n"
      "class Shrink(GAUBase):\n  def _forward(self, X):\n    return X[..., :2]\nROOT = Shrink\n")
  block = load_design(tmp_path / "bad.py").materialize().build_block(4, (0, 1), nnx.Rngs(0))
  with pytest.raises(DesignError, match=r"design 'bad', unit 'Shrink': output Y has shape \(1, 3, 2\)"):
    block(jnp.ones((1, 3, 4)))


def test_not_a_design(tmp_path):
  with pytest.raises(DesignError, match="no design at"):
    load_design(tmp_path / "missing")
  (tmp_path / "notes.txt").write_text("hi")
  with pytest.raises(DesignError, match="neither a design directory"):
    load_design(tmp_path / "notes.txt")
  with pytest.raises(DesignError, match="has no design.json"):
    load_design(tmp_path)


def test_constructor_errors_name_design_and_unit():
  md = seed_design("gpt2").materialize()
  with pytest.raises(DesignError, match="design 'gpt2', unit 'MHA': embed_dim 48 is not a multiple"):
    md.build_block(48, (0, 1), nnx.Rngs(0))
  design = seed_design("gpt2")
  bad = design.replace(units={**design.units, "GatedMLP": design.units["GatedMLP"].__class__(
      file="gated_mlp.py", hparams={"no_such_option": 1})})
  with pytest.raises(DesignError, match="unit 'GatedMLP': constructor rejected hyperparameters"):
    bad.materialize().build_block(32, (0, 1), nnx.Rngs(0))


HELPERS = '''from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax.numpy as jnp
from genesys_jax.gau import GAUBase


@dataclasses.dataclass(frozen=True)
class Widths:
  scale: float = 2.0


class Pair(NamedTuple):
  a: jnp.ndarray
  b: jnp.ndarray


class Scaled(GAUBase):
  def _forward(self, X):
    pair = Pair(X, X * Widths().scale)
    return pair.b - pair.a


ROOT = Scaled
'''


def test_block_with_dataclass_and_namedtuple_helpers_loads_and_runs(tmp_path):
  """Annotated helper fields under `from __future__ import annotations` load (the file is a module of its
  own while it runs), and reading a block file runs none of its code."""
  path = tmp_path / "helpers.py"
  path.write_text(HELPERS)
  design = load_design(path)
  assert list(design.units) == ["Scaled"]
  block = design.materialize().build_block(8, (0, 1), nnx.Rngs(0))
  x = jnp.ones((1, 3, 8))
  assert jnp.allclose(block(x)[0], x)


def test_reading_a_block_file_runs_none_of_its_code(tmp_path):
  path = tmp_path / "loud.py"
  path.write_text(HELPERS.replace("ROOT = Scaled", f"open({str(tmp_path / 'ran')!r}, 'w')\nROOT = Scaled"))
  assert load_design(path).root == "Scaled"
  assert not (tmp_path / "ran").exists()
