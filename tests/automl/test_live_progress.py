"""A Canvas build's live progress (apps.automl.progress) and its best-score chart (apps.automl.charts): progress
follows the time budget, the message and the counters come from one snapshot, the chart ends at the final score
and its y-axis suits the metric. The same through a real worker is in test_progress_jobs.py."""

from __future__ import annotations

import pytest

from apps.automl.charts import best_score_figure, score_range, trials_figure
from apps.automl.progress import LiveBuild


def test_progress_follows_the_budget_and_never_goes_back() -> None:
    live = LiveBuild(budget_s=30.0, objective="roc_auc", clock=100.0)
    seen = []
    for t in (100.0, 103.0, 112.0, 111.0, 120.0, 129.0, 135.0):  # 111: a report that arrives late
        live.report("Trial 2 running", None, 1)
        seen.append(live.snapshot(now=t).fraction)
    assert seen[2] == pytest.approx(12 / 30)  # 40 % at 12 s of 30 s, not 9 %
    assert seen == sorted(seen)  # monotone
    assert max(seen) < 1.0  # past the budget (a refit overrunning) it waits below the end
    live.finish(0.71, 3, "Saving the model")
    assert live.snapshot(now=136.0).fraction == 1.0  # only the end is 100 %


def test_message_and_counters_are_one_snapshot() -> None:
    live = LiveBuild(budget_s=10.0, objective="roc_auc", clock=0.0)
    live.report("Trial 1 running", None, 0)
    snap = live.snapshot(now=1.0)
    assert (snap.trials, snap.best) == (0, None) and snap.message == "Trial 1 running · 0 trials done"
    live.report("Trial 1 (lightgbm) complete", 0.66162, 1)
    live.report("Trial 2 running", 0.66162, 1)
    snap = live.snapshot(now=2.0)
    assert (snap.trials, snap.best) == (1, 0.66162)
    assert snap.message == "Trial 2 running · 1 trial done · best roc_auc 0.6616"
    live.report("Trial 2 (linear) complete", 0.66301, 2)
    snap = live.snapshot(now=3.0)
    assert snap.message.endswith("2 trials done · best roc_auc 0.6630") and snap.best == 0.66301
    assert [p[1] for p in snap.history] == [0.66162, 0.66301]


def test_the_series_ends_at_the_final_score_even_below_the_best_trial() -> None:
    live = LiveBuild(budget_s=10.0, objective="roc_auc", clock=0.0)
    live.report("Trial 1 (lightgbm) complete", 0.70, 1)
    live.finish(0.69, 4, "Saving the model")  # the refitted blend scored out of fold
    snap = live.snapshot()
    assert snap.history[-1][1] == snap.best == 0.69 and snap.trials == 4
    assert "4 trials done · best roc_auc 0.6900" in snap.message


@pytest.mark.parametrize("objective", ["roc_auc", "accuracy", "f1_macro", "balanced_accuracy"])
def test_unit_scores_stay_inside_zero_one(objective: str) -> None:
    lo, hi = score_range(objective, [0.6616, 0.6630, 0.9990])  # type: ignore[misc]
    assert -0.01 <= lo < 0.6616 and 0.999 < hi <= 1.01
    lo, hi = score_range(objective, [0.66, 0.663])  # type: ignore[misc]
    assert 0.6 < lo < 0.66 and 0.663 < hi < 0.7  # zoomed on the data, not 0–1.5
    assert score_range(objective, []) == [0.0, 1.01]


def test_error_metrics_follow_the_data() -> None:
    lo, hi = score_range("rmse", [12.5, 14.0, 30.0])  # type: ignore[misc]
    assert 0 <= lo < 12.5 and 30.0 < hi < 40.0
    lo, hi = score_range("log_loss", [0.02, 0.03])  # type: ignore[misc]
    assert lo >= 0 and hi > 0.03
    lo, hi = score_range("r2", [0.95, 0.99])  # type: ignore[misc]
    assert hi <= 1.01 and lo < 0.95


def test_best_score_chart_ends_at_the_final_model() -> None:
    history = [[1.2, 0.6616], [3.4, 0.663], [9.8, 0.6701]]
    fig = best_score_figure(history, "roc_auc", budget_s=10.0, final=True)
    line, final = fig["data"]
    assert line["x"][-1] == final["x"][0] == 9.8 and line["y"][-1] == final["y"][0] == 0.6701
    assert final["name"] == "final model"
    layout = fig["layout"]
    assert layout["xaxis"]["range"][0] == 0 and layout["xaxis"]["range"][1] >= 10.0  # the whole budget
    assert -0.01 <= layout["yaxis"]["range"][0] and layout["yaxis"]["range"][1] <= 1.01
    live = best_score_figure(history[:2], "roc_auc", budget_s=10.0)
    assert len(live["data"]) == 1 and "so far" in live["layout"]["title"]["text"]


def test_tuning_trials_axis_suits_the_metric() -> None:
    summary = {
        "direction": "maximize",
        "trials": [{"number": i, "state": "complete", "value": v} for i, v in enumerate([0.7, 0.72, 0.71])],
    }
    lo, hi = trials_figure(summary, "roc_auc")["layout"]["yaxis"]["range"]
    assert 0.6 < lo < 0.7 and 0.72 < hi <= 1.01
