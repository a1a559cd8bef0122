"""Selection: the next operator, its parents and the next verification, drawn from a seeded generator.

`c` is the `evolve` config section; `ranking` and `confidences` come from `evolve.fitness` and cover
every design (quadrants are placed within the whole population, not within a pool of candidates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ml_collections
import numpy as np

from genesys_jax.agents.proposal import OPERATORS
from genesys_jax.evolve.fitness import Ranking, quadrants
from genesys_jax.evolve.records import DesignView

_PARENTS = {"mutation": 1, "crossover": 2, "scratch": 0}


def choose_operator(rng: np.random.Generator, n_implemented: int, c: ml_collections.ConfigDict) -> str:
  """An operator from `operator_mix`; crossover and scratch unlock after `crossover_after` and
  `scratch_after` implemented designs (locked weights are dropped, the rest renormalised)."""
  s = c.selection
  unlocked = {"mutation": True, "crossover": n_implemented >= s.crossover_after,
              "scratch": n_implemented >= s.scratch_after}
  names = [op for op in OPERATORS if unlocked[op]]
  weights = np.array([s.operator_mix[op] for op in names], dtype=float)
  return names[rng.choice(len(names), p=weights / weights.sum())]


def choose_parents(rng: np.random.Generator, operator: str, designs: Sequence[DesignView], ranking: Ranking,
                   confidences: Mapping[int, int], n_verified: int, c: ml_collections.ConfigDict) -> tuple[int, ...]:
  """Parent ids for `operator`: one for mutation, two distinct for crossover, none for scratch.

  Evolution: the first parent is a seed while fewer than `seeds_first` designs are verified; otherwise
  each parent is a seed with p=restart_p, else from poor-rank/high-confidence with p=explore_p, else
  from good-rank/high-confidence, rank-weighted within the group (all designs when it is empty).
  Random: uniform over the designs. Too few designs raise ValueError.
  """
  count = _PARENTS[operator]
  if len(designs) < count:
    raise ValueError(f"{operator} needs {count} distinct parents but there are {len(designs)} designs")
  s = c.selection
  if s.strategy == "random":
    return tuple(designs[int(k)].id for k in rng.choice(len(designs), size=count, replace=False))
  labels = quadrants(ranking, {d.id: confidences[d.id] for d in designs}, s.quadrant)
  parents: list[int] = []
  for k in range(count):
    pool = [d for d in designs if d.id not in parents]
    if (k == 0 and n_verified < s.seeds_first) or rng.random() < s.restart_p:
      group = [d for d in pool if d.seed]
    else:
      wanted = "poor_high" if rng.random() < s.explore_p else "good_high"
      group = [d for d in pool if labels[d.id] == wanted]
    group = group or pool
    parents.append(group[_rank_weighted(rng, [d.id for d in group], ranking, s.noise)].id)
  return tuple(parents)


def choose_verification(rng: np.random.Generator, candidates: Sequence[tuple[int, str]], ranking: Ranking,
                        confidences: Mapping[int, int], c: ml_collections.ConfigDict) -> tuple[int, str] | None:
  """The next (design id, rung) among `candidates` (each design at its lowest unverified rung); None if none.

  Evolution: the best-ranked good-rank/low-confidence candidate, or with p=explore_p a rank-weighted
  poor-rank/low-confidence one; when that group is empty, the best-ranked candidate at the lowest rung.
  Random: uniform.
  """
  if not candidates:
    return None
  s = c.selection
  if s.strategy == "random":
    return tuple(candidates[rng.integers(len(candidates))])
  labels = quadrants(ranking, confidences, s.quadrant)
  if rng.random() < s.explore_p:
    pool = [x for x in candidates if labels[x[0]] == "poor_low"]
    if pool:
      return tuple(pool[_rank_weighted(rng, [i for i, _ in pool], ranking, s.noise)])
  else:
    pool = [x for x in candidates if labels[x[0]] == "good_low"]
    if pool:
      return _best(pool, ranking)
  lowest = min(c.rungs.index(rung) for _, rung in candidates)
  return _best([x for x in candidates if c.rungs.index(x[1]) == lowest], ranking)


def _rank_weighted(rng: np.random.Generator, ids: Sequence[int], ranking: Ranking, noise: float) -> int:
  """Index into `ids`, drawn with weight percentile + noise (uniform if every weight is 0)."""
  weights = np.array([ranking.percentile[i] + noise for i in ids])
  if weights.sum() <= 0:
    weights = np.ones(len(ids))
  return int(rng.choice(len(ids), p=weights / weights.sum()))


def _best(pool: Sequence[tuple[int, str]], ranking: Ranking) -> tuple[int, str]:
  return tuple(min(pool, key=lambda x: (ranking.rank[x[0]], x[0])))
