"""Selection: operator unlocks and mix, parent quadrants and restarts, verification choice; all seeded."""

import collections
import math

import numpy as np
import pytest

from genesys_jax.evolve import selection
from genesys_jax.evolve.fitness import Ranking
from genesys_jax.evolve.records import DesignView
from genesys_jax.evolve.settings import evolve_config

N = 20_000


def _near(count: int, n: int, p: float) -> bool:
  """Within 6 standard deviations of a binomial(n, p) frequency (a chance failure is below 1e-8)."""
  return abs(count / n - p) <= 6 * math.sqrt(p * (1 - p) / n) + 1e-12


def _population():
  """Ids 0, 1 are seeds. With quadrant 0.25 of 8: 2 good_high, 4 good_low, 3 poor_high, the rest poor_low."""
  designs = [DesignView(id=i, name=f"d{i}", seed=i < 2) for i in range(8)]
  ranking = Ranking.from_ratings({2: 7.0, 4: 6.0, 0: 5.0, 1: 4.0, 5: 3.0, 6: 2.0, 7: 1.0, 3: 0.0})
  confidences = {i: 5 if i in (2, 3) else 2 for i in range(8)}
  return designs, ranking, confidences


def _weight(ranking: Ranking, i: int, noise: float = 0.05) -> float:
  return ranking.percentile[i] + noise


@pytest.mark.parametrize("strategy", ["evolution", "random"])
def test_operators_unlock_and_follow_the_mix(strategy):
  c = evolve_config()
  c.selection.strategy = strategy
  rng = np.random.default_rng(0)
  assert {selection.choose_operator(rng, 9, c) for _ in range(2000)} == {"mutation"}
  counts = collections.Counter(selection.choose_operator(rng, 10, c) for _ in range(N))
  assert set(counts) == {"mutation", "crossover"} and _near(counts["crossover"], N, 0.15 / 0.95)
  counts = collections.Counter(selection.choose_operator(rng, 20, c) for _ in range(N))
  for op, p in (("mutation", 0.80), ("crossover", 0.15), ("scratch", 0.05)):
    assert _near(counts[op], N, p), (op, counts)


def test_parents_are_seeds_for_the_first_verified_designs():
  c = evolve_config()
  designs, ranking, confidences = _population()
  rng = np.random.default_rng(1)
  counts = collections.Counter(selection.choose_parents(rng, "mutation", designs, ranking, confidences, 9, c)[0]
                               for _ in range(N))
  assert set(counts) == {0, 1}
  # rank-weighted within the pool: percentile + noise
  assert _near(counts[0], N, _weight(ranking, 0) / (_weight(ranking, 0) + _weight(ranking, 1)))
  later = {selection.choose_parents(rng, "mutation", designs, ranking, confidences, 10, c)[0] for _ in range(500)}
  assert later - {0, 1}


def test_parents_restart_explore_and_exploit_frequencies():
  c = evolve_config()
  designs, ranking, confidences = _population()
  rng = np.random.default_rng(2)
  counts = collections.Counter(selection.choose_parents(rng, "mutation", designs, ranking, confidences, 10, c)[0]
                               for _ in range(N))
  assert set(counts) == {0, 1, 2, 3}
  assert _near(counts[0] + counts[1], N, 0.05)          # restart from a seed
  assert _near(counts[3], N, 0.95 * 0.2)                # explore: poor rank, high confidence
  assert _near(counts[2], N, 0.95 * 0.8)                # exploit: good rank, high confidence


def test_crossover_parents_are_distinct_and_scratch_has_none():
  c = evolve_config()
  designs, ranking, confidences = _population()
  rng = np.random.default_rng(3)
  pairs = [selection.choose_parents(rng, "crossover", designs, ranking, confidences, 10, c) for _ in range(2000)]
  assert all(len(p) == 2 and p[0] != p[1] for p in pairs)
  # the only good_high design is taken first, so the second falls back to all the others
  assert collections.Counter(p[0] for p in pairs)[2] > 1000 and len({p[1] for p in pairs}) > 3
  assert selection.choose_parents(rng, "scratch", designs, ranking, confidences, 10, c) == ()
  with pytest.raises(ValueError, match="crossover"):
    selection.choose_parents(rng, "crossover", designs[:1], ranking, confidences, 10, c)


def test_empty_seed_pool_falls_back_to_all_designs():
  c = evolve_config()
  designs, ranking, confidences = _population()
  rng = np.random.default_rng(4)
  parents = {selection.choose_parents(rng, "mutation", designs[2:], ranking, confidences, 0, c)[0]
             for _ in range(500)}
  assert parents == set(range(2, 8))


def test_random_strategy_parents_are_uniform():
  c = evolve_config()
  c.selection.strategy = "random"
  designs, ranking, confidences = _population()
  rng = np.random.default_rng(5)
  counts = collections.Counter(selection.choose_parents(rng, "mutation", designs, ranking, confidences, 0, c)[0]
                               for _ in range(N))
  assert all(_near(counts[i], N, 1 / 8) for i in range(8)), counts
  pairs = [selection.choose_parents(rng, "crossover", designs, ranking, confidences, 0, c) for _ in range(500)]
  assert all(p[0] != p[1] for p in pairs)


def test_verification_prefers_good_low_and_explores_poor_low():
  c = evolve_config()
  _, ranking, confidences = _population()
  candidates = [(3, "micro2"), (5, "micro1"), (4, "micro2"), (6, "micro1")]
  rng = np.random.default_rng(6)
  counts = collections.Counter(selection.choose_verification(rng, candidates, ranking, confidences, c)
                               for _ in range(N))
  assert set(counts) == {(4, "micro2"), (5, "micro1"), (6, "micro1")}
  assert _near(counts[(4, "micro2")], N, 0.8)
  explored = counts[(5, "micro1")] + counts[(6, "micro1")]
  assert _near(counts[(5, "micro1")], explored, _weight(ranking, 5) / (_weight(ranking, 5) + _weight(ranking, 6)))


def test_verification_falls_back_to_the_best_candidate_at_the_lowest_rung():
  c = evolve_config()
  c.selection.explore_p = 0.5
  _, ranking, confidences = _population()
  rng = np.random.default_rng(7)
  # neither 2 (good_high) nor 3 (poor_high) has low confidence
  assert {selection.choose_verification(rng, [(3, "micro2"), (2, "micro3")], ranking, confidences, c)
          for _ in range(200)} == {(3, "micro2")}
  assert {selection.choose_verification(rng, [(3, "micro2"), (2, "micro2")], ranking, confidences, c)
          for _ in range(200)} == {(2, "micro2")}
  assert selection.choose_verification(rng, [], ranking, confidences, c) is None


def test_random_strategy_verification_is_uniform():
  c = evolve_config()
  c.selection.strategy = "random"
  _, ranking, confidences = _population()
  candidates = [(3, "micro2"), (5, "micro1"), (4, "micro2"), (6, "micro1")]
  rng = np.random.default_rng(8)
  counts = collections.Counter(selection.choose_verification(rng, candidates, ranking, confidences, c)
                               for _ in range(N))
  assert all(_near(counts[x], N, 0.25) for x in candidates), counts


def test_same_seed_same_choices():
  c = evolve_config()
  designs, ranking, confidences = _population()

  def run(seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [(selection.choose_operator(rng, 30, c),
             selection.choose_parents(rng, "crossover", designs, ranking, confidences, 10, c)) for _ in range(50)]

  assert run(9) == run(9) != run(10)
