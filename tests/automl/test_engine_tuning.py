"""The AMT core: spec validation, strategies, completion criteria, warm start, one-trial evaluation, and two
processes sharing one SQLite-backed study."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest

from apps.automl.engine import SpecError
from apps.automl.engine.tuning import (
    Completion,
    cv_folds,
    default_ranges,
    evaluate_trial,
    make_pruner,
    make_sampler,
    open_study,
    parse_spec,
    prepare_data,
    run_worker,
    should_stop,
    study_summary,
    warm_start,
)
from tests.factories import make_regression

ROOT = Path(__file__).resolve().parents[2]


def _spec(**over):  # type: ignore[no-untyped-def]
    raw = {
        "algorithm": "linear",
        "problem_type": "regression",
        "objective": "rmse",
        "strategy": "bayesian",
        "max_trials": 6,
        "ranges": {"alpha": {"type": "continuous", "min": 1e-3, "max": 100, "scale": "log"}},
    }
    raw.update(over)
    return raw


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"algorithm": "svm"}, "algorithm"),
        ({"strategy": "genetic"}, "strategy"),
        ({"objective": "accuracy"}, "objective"),
        ({"ranges": {"gamma": {"type": "continuous", "min": 0, "max": 1}}}, "ranges.gamma"),
        ({"ranges": {"alpha": {"type": "continuous", "min": 0, "max": 1, "scale": "log"}}}, "ranges.alpha.min"),
        ({"ranges": {"alpha": {"type": "continuous", "min": 5, "max": 1}}}, "ranges.alpha"),
        ({"ranges": {"alpha": {"type": "float", "min": 1, "max": 2}}}, "ranges.alpha.type"),
        ({"max_trials": 0}, "max_trials"),
        ({"completion": {"patience": "ten"}}, "completion.patience"),
    ],
)
def test_spec_errors_name_the_field(change: dict, field: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec(_spec(**change))
    assert err.value.field == field and err.value.message


def test_spec_parses_all_range_types() -> None:
    spec = parse_spec(
        {
            "algorithm": "lightgbm",
            "problem_type": "binary",
            "ranges": {
                "num_leaves": {"type": "integer", "min": 4, "max": 64, "scale": "log"},
                "learning_rate": {"type": "continuous", "min": 0.01, "max": 0.3},
                "colsample_bytree": {"type": "categorical", "values": [0.5, 0.8, 1.0]},
            },
        }
    )
    assert spec.objective == "roc_auc" and spec.direction == "maximize"
    assert spec.ranges["num_leaves"].grid(3) == [4, 16, 64]
    assert set(default_ranges("lightgbm", "binary")) >= {"learning_rate", "num_leaves"}


def test_strategies_map_onto_optuna() -> None:
    assert isinstance(make_sampler(parse_spec(_spec(strategy="random"))), optuna.samplers.RandomSampler)
    assert isinstance(make_sampler(parse_spec(_spec(strategy="bayesian"))), optuna.samplers.TPESampler)
    assert isinstance(make_sampler(parse_spec(_spec(strategy="grid"))), optuna.samplers.GridSampler)
    assert isinstance(make_pruner(parse_spec(_spec(strategy="hyperband"))), optuna.pruners.HyperbandPruner)
    assert isinstance(make_pruner(parse_spec(_spec(early_stopping="auto"))), optuna.pruners.MedianPruner)


def test_grid_search_runs_the_grid_and_evaluate_trial_is_plain_json() -> None:
    df = make_regression(150)
    data = prepare_data(df.drop(columns=["price"]), df["price"], "regression", n_jobs=1)
    folds = cv_folds(data, {"n_splits": 3})
    spec = parse_spec(_spec(strategy="grid", grid_points=3, max_trials=3))
    study = open_study(spec, "grid")
    out = run_worker(study, spec, data, folds, n_trials=10)
    assert out["stop_reason"] == "max_trials" and out["trials_run"] == 3
    assert sorted(round(t.params["alpha"], 3) for t in study.trials) == [0.001, 0.316, 100.0]
    one = evaluate_trial("linear", {"alpha": 1.0}, data, folds, "rmse")
    assert one["value"] == one["metrics"]["rmse"] and set(one["metrics"]) == {"rmse", "mae", "r2", "mape"}
    summary = study_summary(study)
    assert summary["best"]["number"] in {t["number"] for t in summary["trials"]}


def test_completion_criteria() -> None:
    study = optuna.create_study(direction="minimize")
    for v in [10.0, 5.0, 4.99, 4.98, 4.985]:
        study.add_trial(optuna.trial.create_trial(value=v))
    assert should_stop(study, Completion(target_value=6.0)) == "target_value_reached"
    assert should_stop(study, Completion(target_value=1.0)) is None
    assert should_stop(study, Completion(patience=3, min_improvement=0.01)) == "no_improvement"  # < 1 % in 3
    assert should_stop(study, Completion(patience=4, min_improvement=0.01)) is None  # 10 → 4.98 within 4


def test_warm_start_enqueues_the_best_of_earlier_studies() -> None:
    spec = parse_spec(_spec())
    parent = optuna.create_study(direction="minimize")
    for alpha, value in [(0.5, 3.0), (2.0, 1.0), (1000.0, 0.5)]:  # 1000 is outside this spec's range
        parent.add_trial(
            optuna.trial.create_trial(
                params={"alpha": alpha},
                value=value,
                distributions={"alpha": optuna.distributions.FloatDistribution(1e-3, 1e4, log=True)},
            )
        )
    study = open_study(spec, "warm")
    assert warm_start(study, spec, [parent], top=3) == 2
    trial = study.ask()
    assert trial.suggest_float("alpha", 1e-3, 100, log=True) == 2.0


WORKER = textwrap.dedent("""
    import sys
    from apps.automl.engine.tuning import cv_folds, open_study, parse_spec, prepare_data, run_worker
    from tests.frames import make_regression
    url, name = sys.argv[1], sys.argv[2]
    df = make_regression(120)
    data = prepare_data(df.drop(columns=["price"]), df["price"], "regression", n_jobs=1)
    spec = parse_spec({"algorithm": "linear", "problem_type": "regression", "max_trials": 50, "seed": 0,
                       "ranges": {"alpha": {"type": "continuous", "min": 0.001, "max": 100, "scale": "log"}}})
    out = run_worker(open_study(spec, "shared", url), spec, data, cv_folds(data, {"n_splits": 3}), n_trials=4,
                     worker=name)
    print(out["trials_run"])
""")


def test_two_processes_share_one_sqlite_study(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    spec = parse_spec(_spec(max_trials=50))
    open_study(spec, "shared", url)  # create the schema once, as the job's first task would
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, f"w{i}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-800:] for o in outs]
    study = optuna.load_study(study_name="shared", storage=url)
    workers = [t.user_attrs.get("worker") for t in study.trials]
    assert workers.count("w0") == 4 and workers.count("w1") == 4
    assert len({t.number for t in study.trials}) == 8
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def test_a_stopped_study_and_stale_running_trials(tmp_path: Path) -> None:
    from apps.automl.engine.tuning import fail_running_trials, stop_study

    spec = parse_spec(_spec(max_trials=4))
    study = open_study(spec, "stale", f"journal://{tmp_path / 'stale.log'}")
    data = prepare_data(make_regression(120).drop(columns=["price"]), make_regression(120)["price"], "regression")
    folds = cv_folds(data, {"method": "cv", "n_splits": 3})
    ghost = study.ask()  # a worker that was killed mid-trial
    ghost.set_user_attr("worker", "w1")
    # running trials count against max_trials, so 3 more run, not 4
    assert run_worker(study, spec, data, folds, n_trials=10, worker="w0")["trials_run"] == 3
    assert fail_running_trials(study, worker="w1") == 1
    assert [t.state.name for t in study.trials].count("FAIL") == 1
    stop_study(study, "cancelled")
    assert run_worker(study, parse_spec(_spec(max_trials=20)), data, folds, n_trials=5)["stop_reason"] == "cancelled"


def test_storage_creation_retries_when_another_process_wins_the_race(monkeypatch, tmp_path: Path) -> None:
    """Two processes creating Optuna's tables in a fresh database at once: the loser retries instead of failing
    the tuning job (seen on PostgreSQL as a duplicate pg_type entry)."""
    from sqlalchemy.exc import IntegrityError

    from apps.automl.engine import tuning

    real = optuna.storages.RDBStorage
    calls = []

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("CREATE TABLE studies", {}, Exception("duplicate key value (pg_type)"))
        return real(*args, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", flaky)
    storage = tuning.storage_for(f"sqlite:///{tmp_path / 'race.db'}")
    assert storage is not None and len(calls) == 2
