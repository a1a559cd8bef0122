"""Diagnostic tasks: well-formed rows, answers fixed by the prefix (an oracle scores 1.0, a constant scores chance),
determinism, and held-out data apart from training data."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genesys_jax.verify.diagnostics import (TASKS, chance_accuracy, mixture_batches, scored_per_row, task_batches,
                                            vocab_ids)

LENGTH, VOCAB = 64, 260
SCORED_PER_ROW = {"mqar": 16, "selective_copying": 8, "induction_heads": 1}
ANSWER_RANGE = {"mqar": (128, 256), "selective_copying": (0, 256), "induction_heads": (0, 256)}


def _solve_mqar(prefix, ids):
  """The value after the first earlier occurrence of the last token (a queried key)."""
  earlier = np.flatnonzero(prefix[:-1] == prefix[-1])
  return prefix[earlier[0] + 1] if earlier.size else ids.pad


def _solve_selective_copying(prefix, ids):
  """After the i-th marker, the i-th token that is neither noise nor marker."""
  markers = int(np.sum(prefix == ids.marker))
  data = prefix[(prefix != ids.noise) & (prefix != ids.marker)]
  return data[markers - 1] if prefix[-1] == ids.marker and markers <= data.size else ids.pad


def _solve_induction_heads(prefix, ids):
  """After a trigger, the token that followed the most recent earlier trigger."""
  earlier = np.flatnonzero(prefix[:-1] == ids.trigger)
  return prefix[earlier[-1] + 1] if prefix[-1] == ids.trigger and earlier.size else ids.pad


def accuracy(forward, batches):
  """Fraction of the weighted positions of `batches` where the argmax of `forward`'s logits is the target."""
  hits = total = 0.0
  for b in batches:
    right_BxL = np.asarray(jnp.argmax(forward(jnp.asarray(b["inputs"])), axis=-1)) == b["targets"]
    hits, total = hits + float(np.sum(b["weights"] * right_BxL)), total + float(np.sum(b["weights"]))
  if total == 0:
    raise ValueError("The batches have no weighted positions to score.")
  return hits / total


SOLVERS = {"mqar": _solve_mqar, "selective_copying": _solve_selective_copying,
           "induction_heads": _solve_induction_heads}


def _oracle_forward(name, vocab):
  """One-hot logits whose prediction at t reads only `inputs[:, :t + 1]`."""
  ids, solve = vocab_ids(vocab), SOLVERS[name]

  def forward(inputs_BxL):
    rows = np.asarray(inputs_BxL)
    guesses_BxL = np.array([[solve(row[:t + 1], ids) for t in range(row.size)] for row in rows])
    return jax.nn.one_hot(guesses_BxL, vocab)

  return forward


def _constant_forward(token, vocab):
  return lambda inputs_BxL: jnp.broadcast_to(jax.nn.one_hot(token, vocab), inputs_BxL.shape + (vocab,))


def _task_of(row, vocab):
  ids = vocab_ids(vocab)
  return ("selective_copying" if np.any(row == ids.marker) else
          "induction_heads" if np.any(row == ids.trigger) else "mqar")


@pytest.mark.parametrize("name", list(TASKS))
def test_rows_are_well_formed(name):
  b = TASKS[name](np.random.default_rng(0), 16, LENGTH, VOCAB)
  assert sorted(b) == ["inputs", "targets", "weights"]
  assert [(a.shape, a.dtype) for a in b.values()] == [((16, LENGTH), np.int32)] * 2 + [((16, LENGTH), np.float32)]
  assert b["inputs"].min() >= 0 and b["inputs"].max() < VOCAB
  assert set(np.unique(b["weights"])) == {0.0, 1.0}
  assert np.all(b["weights"].sum(axis=1) == SCORED_PER_ROW[name])
  scored = b["targets"][b["weights"] == 1]
  assert scored.min() >= ANSWER_RANGE[name][0] and scored.max() < ANSWER_RANGE[name][1]
  assert np.all(b["targets"][b["weights"] == 0] == vocab_ids(VOCAB).pad)


def test_mqar_keys_are_unique_within_a_row():
  b = TASKS["mqar"](np.random.default_rng(1), 32, LENGTH, VOCAB, num_pairs=12, num_queries=5)
  keys = b["inputs"][:, :24:2]
  assert all(len(set(row)) == 12 for row in keys.tolist())
  assert np.all(b["inputs"][:, 44:] == vocab_ids(VOCAB).pad)


@pytest.mark.parametrize("name,length,vocab,params", [
    ("mqar", LENGTH, VOCAB, {}),
    ("mqar", 100, 20, {"num_pairs": 6, "num_queries": 3}),
    ("mqar", 64, 8192, {"num_pairs": 4, "power_a": 0.01}),
    ("mqar", 40, 30, {"num_pairs": 5, "num_queries": 5, "power_a": 1.0}),
    ("selective_copying", LENGTH, VOCAB, {}),
    ("selective_copying", 50, 10, {"num_data": 25}),
    ("induction_heads", LENGTH, VOCAB, {}),
    ("induction_heads", 200, 12, {}),
    ("induction_heads", 31, 8, {"num_queries": 10}),
])
def test_an_oracle_reading_only_the_prefix_is_always_right(name, length, vocab, params):
  b = TASKS[name](np.random.default_rng(2), 8, length, vocab, **params)
  assert accuracy(_oracle_forward(name, vocab), [b]) == 1.0


@pytest.mark.parametrize("name", list(TASKS))
def test_a_constant_guess_scores_about_chance(name):
  batches = task_batches(name, 0, 4, 256, LENGTH, VOCAB)
  chance = chance_accuracy(name, LENGTH, VOCAB)
  scored = sum(float(b["weights"].sum()) for b in batches)
  acc = accuracy(_constant_forward(ANSWER_RANGE[name][0], VOCAB), batches)
  assert abs(acc - chance) < 4 * math.sqrt(chance / scored)


def test_accuracy_weighs_each_scored_position():
  b = TASKS["mqar"](np.random.default_rng(3), 4, LENGTH, VOCAB)
  where = np.argwhere(b["weights"] == 1)[0]
  b["targets"][tuple(where)] = 0
  assert accuracy(_oracle_forward("mqar", VOCAB), [b]) == pytest.approx(1 - 1 / 64)
  b["weights"][:] = 0
  with pytest.raises(ValueError, match="no weighted positions"):
    accuracy(_oracle_forward("mqar", VOCAB), [b])


def test_chance_levels():
  assert chance_accuracy("mqar", LENGTH, VOCAB) == 1 / 128
  assert chance_accuracy("selective_copying", LENGTH, VOCAB) == 1 / 256
  assert chance_accuracy("induction_heads", LENGTH, VOCAB) == 1 / 256


@pytest.mark.parametrize("name", list(TASKS))
def test_tasks_are_deterministic_given_the_rng(name):
  first, again, other = (TASKS[name](np.random.default_rng(s), 4, LENGTH, VOCAB) for s in (7, 7, 8))
  assert all(np.array_equal(first[k], again[k]) for k in first)
  assert not np.array_equal(first["inputs"], other["inputs"])


def test_mixture_is_deterministic_and_holds_every_task():
  names = ["induction_heads", "mqar", "selective_copying"]
  first, again, other = (mixture_batches(names, s, 7, LENGTH, VOCAB) for s in (5, 5, 6))
  for _ in range(3):
    b, b_again, b_other = next(first), next(again), next(other)
    assert all(np.array_equal(b[k], b_again[k]) for k in b)
    assert not np.array_equal(b["inputs"], b_other["inputs"])
    assert b["inputs"].shape == (7, LENGTH) and b["weights"].dtype == np.float32
    assert [_task_of(row, VOCAB) for row in b["inputs"]] == [names[i % 3] for i in range(7)]


def test_held_out_batches_are_apart_from_training_batches():
  mixture = mixture_batches(list(TASKS), 0, 30, LENGTH, VOCAB)
  seen = {row.tobytes() for _ in range(10) for row in next(mixture)["inputs"]}
  for name in TASKS:
    held_out = task_batches(name, 0, 2, 10, LENGTH, VOCAB)
    assert all(np.array_equal(a["inputs"], b["inputs"])
               for a, b in zip(held_out, task_batches(name, 0, 2, 10, LENGTH, VOCAB)))
    assert not any(row.tobytes() in seen for b in held_out for row in b["inputs"])
  assert not np.array_equal(task_batches("mqar", 0, 1, 10, LENGTH, VOCAB)[0]["inputs"],
                            task_batches("mqar", 1, 1, 10, LENGTH, VOCAB)[0]["inputs"])


@pytest.mark.parametrize("name,length", [("mqar", 3), ("selective_copying", 1), ("induction_heads", 2)])
def test_too_short_a_length_is_refused(name, length):
  with pytest.raises(ValueError, match="too short"):
    TASKS[name](np.random.default_rng(0), 2, length, VOCAB)
  with pytest.raises(ValueError, match="too short"):
    chance_accuracy(name, length, VOCAB)


def test_bad_arguments_are_refused():
  with pytest.raises(ValueError, match="num_queries"):
    TASKS["mqar"](np.random.default_rng(0), 2, LENGTH, VOCAB, num_pairs=4, num_queries=5)
  with pytest.raises(ValueError, match="vocab"):
    TASKS["induction_heads"](np.random.default_rng(0), 2, LENGTH, 5)
  with pytest.raises(ValueError, match="Unknown"):
    task_batches("copying", 0, 1, 2, LENGTH, VOCAB)
  with pytest.raises(ValueError, match="too small"):
    mixture_batches(list(TASKS), 0, 2, LENGTH, VOCAB)


def test_power_law_queries_take_distinct_slots_mostly_near_the_context():
  b = TASKS["mqar"](np.random.default_rng(4), 2000, 64, 8192, num_pairs=4, power_a=0.01)
  ids = vocab_ids(8192)
  assert np.all(b["weights"].sum(axis=1) == 4)
  slots_BxQ = (np.argwhere(b["weights"] == 1)[:, 1].reshape(2000, 4) - 8) // 2
  assert np.all(np.diff(np.sort(slots_BxQ, axis=1), axis=1) > 0)
  counts = np.bincount(slots_BxQ.ravel(), minlength=28)
  assert counts[0] > 2 * counts[4] > 4 * counts[27] > 0  # p(i) ~ 1/i: dense near the context, a long tail
  filler = b["inputs"][:, 8:].copy()
  np.put_along_axis(filler, np.concatenate([2 * slots_BxQ, 2 * slots_BxQ + 1], axis=1), ids.pad, axis=1)
  assert np.all(filler == ids.pad)  # nothing but the queries and their answers after the context


def test_task_params_reach_the_mixture_and_the_held_out_batches():
  params = {"mqar": {"num_pairs": 3, "power_a": 0.5}}
  held_out = task_batches("mqar", 0, 1, 6, LENGTH, VOCAB, params)[0]
  mixed = next(mixture_batches(["mqar", "induction_heads"], 0, 6, LENGTH, VOCAB, params))
  assert np.all(held_out["weights"].sum(axis=1) == 3) and np.all(mixed["weights"][0::2].sum(axis=1) == 3)
  assert scored_per_row("mqar", LENGTH, VOCAB, **params["mqar"]) == 3


@pytest.mark.parametrize("name", list(TASKS))
def test_scored_per_row_counts_the_scored_positions(name):
  assert scored_per_row(name, LENGTH, VOCAB) == SCORED_PER_ROW[name]


def test_a_bad_power_is_refused():
  with pytest.raises(ValueError, match="power_a"):
    TASKS["mqar"](np.random.default_rng(0), 2, LENGTH, VOCAB, power_a=-1.0)
