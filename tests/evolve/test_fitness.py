"""Fitness: metrics of a verification, the rung-restricted Massey ranking, confidence and quadrants."""

import numpy as np
import pytest

from genesys_jax.evolve import fitness
from genesys_jax.evolve.records import DesignView

MIN_MARGIN, DRAW_MARGIN = 0.02, 0.01


def _results(bpb: float, accuracy: float = 0.3, tasks: dict[str, float] | None = None,
             random_task: float = 0.25) -> dict:
  """A completed verification: validation bits per byte and accuracy, task acc_norm scores."""
  tasks = tasks or {}
  return {"status": "completed",
          "eval": {"validation": {"loss": 1.0, "perplexity": 2.7, "bits_per_byte": bpb, "accuracy": accuracy,
                                  "tokens": 100},
                   "tasks": {n: {"acc": v, "acc_norm": v, "n": 50, "chance": 0.25} for n, v in tasks.items()}},
          "random_init": {"validation": {"loss": 9.0, "perplexity": 8103.0, "bits_per_byte": 8.0, "accuracy": 0.0,
                                         "tokens": 100},
                          "tasks": {n: {"acc": random_task, "acc_norm": random_task, "n": 50, "chance": 0.25}
                                    for n in tasks}}}


def _design(i: int, **results: dict) -> DesignView:
  return DesignView(id=i, name=f"d{i}", seed=False, results=results)


def _rank(*designs: DesignView) -> fitness.Ranking:
  return fitness.rank_designs(designs, MIN_MARGIN, DRAW_MARGIN)


def test_design_metrics_values_and_baselines():
  r = _results(2.0, accuracy=0.4, tasks={"arc": 0.5, "piqa": 0.6, "new": 0.7})
  r["eval"]["tasks"]["piqa"]["acc_norm"] = None  # acc only
  r["random_init"]["tasks"]["piqa"] = {"acc": 0.3, "acc_norm": None, "n": 50, "chance": 0.5}
  del r["random_init"]["tasks"]["new"]          # no untrained score: chance
  r["diagnostics"] = {"tasks": {"copy": {"accuracy": 0.9, "random_init": 0.1, "chance": 0.2},
                                "sort": {"accuracy": 0.4, "random_init": 0.3, "chance": 0.05},
                                "skip": {"accuracy": None, "random_init": 0.3, "chance": 0.05}}}
  assert fitness.design_metrics(r) == {
      "val_bpb": (-2.0, -8.0), "val_accuracy": (0.4, 0.0), "task/arc": (0.5, 0.25), "task/piqa": (0.6, 0.3),
      "task/new": (0.7, 0.25), "diag/copy": (0.9, 0.2), "diag/sort": (0.4, 0.3)}


def test_solve_massey_known_examples():
  # A beats B by 7, B beats C by 3, A beats C by 4: r = p / 3.
  m = np.array([[2.0, -1, -1], [-1, 2, -1], [-1, -1, 2]])
  r = fitness.solve_massey(m, np.array([11.0, -4, -7]))
  np.testing.assert_allclose(r, [11 / 3, -4 / 3, -7 / 3], atol=1e-9)
  # A beats B by 2, B beats C by 3, A and C never meet: A - B = 2, B - C = 3, sum 0.
  m = np.array([[1.0, -1, 0], [-1, 2, -1], [0, -1, 1]])
  r = fitness.solve_massey(m, np.array([2.0, 1, -3]))
  np.testing.assert_allclose(r, [7 / 3, 1 / 3, -8 / 3], atol=1e-9)
  assert abs(r.sum()) < 1e-9


def test_round_robin_rating_is_the_standardised_value():
  bpb = {0: 2.0, 1: 2.5, 2: 3.5}
  ranking = _rank(*[_design(i, micro1=_results(b)) for i, b in bpb.items()])
  values = -np.array(list(bpb.values()))
  expected = (values - values.mean()) / values.std()
  np.testing.assert_allclose([ranking.rating[i] for i in bpb], expected, atol=1e-9)
  assert abs(sum(ranking.rating.values())) < 1e-9
  assert ranking.rank == {0: 0, 1: 1, 2: 2} and ranking.percentile == {0: 1.0, 1: 0.5, 2: 0.0}


def test_designs_at_different_rungs_do_not_play():
  ranking = _rank(_design(0, micro1=_results(3.0)), _design(1, micro2=_results(5.0)),
                  _design(2, micro2=_results(4.0)), _design(3))
  assert ranking.rating[0] == pytest.approx(0.0, abs=1e-9)  # alone at micro1; would lead if it met micro2
  assert ranking.rating[3] == pytest.approx(0.0, abs=1e-9)  # unverified
  assert ranking.rating[2] > 0 > ranking.rating[1]
  assert ranking.rank[2] == 0 and ranking.rank[1] == 3 and ranking.rank[0] == ranking.rank[3] == 1


def test_metric_nobody_beats_its_baseline_on_is_dropped():
  def pair(random_task: float) -> list[DesignView]:
    # 0 is better on bits per byte, 1 on both tasks.
    return [_design(0, micro1=_results(2.0, tasks={"t1": 0.25, "t2": 0.25}, random_task=random_task)),
            _design(1, micro1=_results(2.5, tasks={"t1": 0.30, "t2": 0.30}, random_task=random_task))]

  metrics = {"micro1": {d.id: fitness.design_metrics(d.results["micro1"]) for d in pair(0.31)}}
  assert fitness.usable_metrics(metrics, MIN_MARGIN) == {"val_bpb", "val_accuracy"}
  assert _rank(*pair(0.31)).rank == {0: 0, 1: 1}   # tasks dropped: bits per byte decides
  assert _rank(*pair(0.20)).rank == {0: 1, 1: 0}   # tasks count: two metrics beat one
  # Beating the baseline at another rung does not make the task count at micro1.
  others = [_design(2, micro2=_results(2.0, tasks={"t1": 0.5, "t2": 0.5})),
            _design(3, micro2=_results(2.0, tasks={"t1": 0.4, "t2": 0.4}))]
  ranking = _rank(*pair(0.31), *others)
  assert ranking.rating[0] > ranking.rating[1] and ranking.rating[2] > ranking.rating[3]


def test_differences_under_the_draw_margin_are_draws():
  drawn = _rank(_design(0, micro1=_results(2.0)), _design(1, micro1=_results(2.005)))
  assert drawn.rating[0] == pytest.approx(0.0, abs=1e-9) and drawn.rank == {0: 0, 1: 0}
  decided = _rank(_design(0, micro1=_results(2.0)), _design(1, micro1=_results(2.05)))
  assert decided.rating[0] > 0 and decided.rank == {0: 0, 1: 1}


def test_metric_scale_is_normalised():
  # 0 wins bits per byte by 1.0; 1 wins two tasks by 0.1 each. Raw margins would favour 0.
  ranking = _rank(_design(0, micro1=_results(1.0, tasks={"t1": 0.3, "t2": 0.3})),
                  _design(1, micro1=_results(2.0, tasks={"t1": 0.4, "t2": 0.4})))
  assert ranking.rating[1] > ranking.rating[0]
  assert fitness.fitness(_design(1), ranking) == ranking.rating[1]


def test_ranking_ties_share_a_rank():
  ranking = fitness.Ranking.from_ratings({5: 1.0, 6: 0.0, 7: 0.0, 8: -1.0})
  assert ranking.rank == {5: 0, 6: 1, 7: 1, 8: 3}
  assert ranking.percentile == {5: 1.0, 6: pytest.approx(2 / 3), 7: pytest.approx(2 / 3), 8: 0.0}
  assert fitness.Ranking.from_ratings({1: 0.0}).percentile == {1: 1.0}


def test_confidence_points():
  rungs = ("micro1", "micro2", "micro3")
  assert fitness.confidence(_design(0), rungs) == 2
  assert fitness.confidence(_design(0, micro1={}), rungs) == 3
  assert fitness.confidence(_design(0, micro1={}, micro3={}), rungs) == 6
  assert fitness.confidence(_design(0, micro1={}, micro2={}, micro3={}), rungs) == 8


def test_quadrants_count_ties_at_the_threshold_as_top():
  ranking = fitness.Ranking.from_ratings({0: 3.0, 1: 2.0, 2: 2.0, 3: 1.0, 4: 0.0, 5: -1.0, 6: -2.0, 7: -3.0})
  confidences = {0: 2, 1: 2, 2: 4, 3: 3, 4: 3, 5: 2, 6: 2, 7: 2}
  # top 2 of 8: ranks 0, 1, 1 are good; confidences 4, 3, 3 are high.
  assert fitness.quadrants(ranking, confidences, 0.25) == {
      0: "good_low", 1: "good_low", 2: "good_high", 3: "poor_high", 4: "poor_high", 5: "poor_low",
      6: "poor_low", 7: "poor_low"}
  same = fitness.quadrants(ranking, dict.fromkeys(confidences, 3), 0.25)
  assert all(q.endswith("_high") for q in same.values())
  assert fitness.quadrants(ranking, {}, 0.25) == {}
