"""The plots: their data (fitness re-ranked over time, the funnel, rejections, spend, losses) and the SVG helpers."""

import re

import pytest

from genesys_jax.report import charts, svg


def test_nice_ticks_are_round_and_cover_the_range():
  assert svg.nice_ticks(0.0, 1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
  ticks = svg.nice_ticks(2.31, 4.87)
  assert ticks[0] <= 2.31 and ticks[-1] >= 4.87 and 4 <= len(ticks) <= 8
  assert svg.nice_ticks(3.0, 3.0)[0] < 3.0 < svg.nice_ticks(3.0, 3.0)[-1]  # a flat series still gets an axis


def test_line_chart_draws_a_path_per_series_and_bar_chart_a_bar_per_value():
  lines = svg.line_chart([svg.Series("a", [(0, 1), (1, 2)], "#000"), svg.Series("b", [(0, 3), (2, 1)], "#111",
                                                                                  dashed=True)], "x", "y")
  assert lines.count("<path") == 2 and "stroke-dasharray" in lines and lines.count('class="key"') == 2
  assert svg.line_chart([], "x", "y") == '<p class="empty">no data yet</p>'
  bars = svg.bar_chart([svg.Bar("one", 3), svg.Bar("two", 0), svg.Bar("three", 1.5)], "count")
  assert len(re.findall(r"<rect x=", bars)) == 3 and ">one</text>" in bars


def test_fitness_over_time_reranks_with_what_was_known(hand_built):
  run, ids = hand_built
  points = charts.fitness_points(run)
  completed = [v for v in run.verifications if v.status == "completed"]
  assert len(points["best seed"]) == len(completed)  # alpha is the first result recorded
  # new designs appear from the third result on (alpha, beta, then d1)
  assert len(points["best"]) == len(completed) - 2 == len(points["median"])
  assert all(b >= m for (_, b), (_, m) in zip(points["best"], points["median"]))
  assert points["best"][-1][1] == pytest.approx(run.ranking.rating[ids["d1"]])  # the end agrees with the ranking
  assert points["best seed"][0][1] == 0.0  # alone, the first seed rates 0
  sampled = charts.fitness_points(run, max_points=3)["best seed"]  # 8 results: every 4th, so the 4th and 8th
  assert sampled == [points["best seed"][3], points["best seed"][7]]


def test_time_samples_stay_samples_as_the_run_grows():
  assert charts.sample_times([1.0, 2.0, 3.0], 4) == [1.0, 2.0, 3.0]
  small, large = charts.sample_times(list(range(100)), 8), charts.sample_times(list(range(200)), 8)
  assert len(small) <= 9 and len(large) <= 9 and small[-1] == 99 and large[-1] == 199
  assert set(large[:-1]) <= set(small[:-1]) | set(range(100, 200))


def test_funnel_counts_sessions_designs_acceptance_and_rungs(hand_built):
  run, _ = hand_built
  bars = {b.label: (b.value, b.note) for b in charts.funnel_bars(run)}
  assert bars["design sessions"][0] == 7 and bars["designs written"][0] == 6
  assert bars["accepted by the checker"][0] == 4  # d4 rejected, d5 a duplicate
  assert bars["verified at micro1"] == (3, "of 16, 1 failed")
  assert bars["verified at micro2"] == (1, "of 4") and bars["verified at micro3"] == (1, "of 1")


def test_rejections_count_failed_errors_not_warnings(hand_built):
  run, _ = hand_built
  assert charts.rejection_counts(run) == {"time": 1}
  assert charts.attempt_rejection_counts(run) == {"causality": 1}  # d2's first attempt, inside its LLM session
  assert "designs rejected by the check" in charts.rejection_chart(run)
  assert charts.session_failures(run) == {"no mutation found": 1}


def test_spend_is_cumulative_and_losses_come_from_the_histories(hand_built):
  run, ids = hand_built
  spend = charts.spend_chart(run)
  assert "<path" in spend and "cumulative spend" in spend
  assert charts.top_designs(run, 2) == [ids["d1"], ids["d2"]]
  losses = charts.loss_chart(run, 2)  # d1 at micro3 (no seed got there), then d2 with alpha at micro1
  assert re.fullmatch(r"<h4>micro3</h4>.*d1</span>.*<h4>micro1</h4>.*d2</span>.*alpha \(best seed\)</span>.*", losses,
                      re.S)
  assert losses.count("<path") == 3
