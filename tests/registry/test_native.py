"""Forests compiled to native code (apps/registry/native.py): the same answers as scikit-learn bit for bit, compiled
once and cached, never loaded from a file whose signature fails, and FastForest serving on where compiling cannot
happen. Real compiles with the machine's C compiler, on small forests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor, RandomForestClassifier, RandomForestRegressor

from apps.automl.engine import AtelierModel, save_model
from apps.automl.engine.model import Member
from apps.endpoints.services import endpoint_create
from apps.registry import native
from apps.registry.acceleration import FastForest, FastPipeline, accelerate
from apps.registry.loading import load_file
from tests.conftest import wait_for
from tests.factories import FEATURES, pipeline, register, training_frame

pytestmark = pytest.mark.skipif(native.compiler("cc") is None, reason="needs a C compiler")


@pytest.fixture(autouse=True)
def worker_role(monkeypatch) -> None:
    """These tests run as a worker would (compile and load); tests of other roles set their own. Each test starts
    with no library loaded, as a fresh process does."""
    monkeypatch.setattr(native, "_role", native.ROLE_WORKER)
    monkeypatch.setattr(native, "_libraries", {})


@pytest.fixture(autouse=True)
def native_dir(settings, tmp_path: Path) -> Path:
    settings.SERVING_NATIVE_DIR = tmp_path / "native"
    settings.SERVING_NATIVE_CC = "cc"
    settings.SERVING_NATIVE_MAX_NODES = 2_000_000
    return settings.SERVING_NATIVE_DIR


def compiled(forest) -> native.NativeForest:
    fast = FastForest(forest)
    return native.build(fast.trees, fast.leaves, int(fast.n_features_in_))


def data(n: int = 600, classes: int = 2, missing: bool = False) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=n, n_features=8, n_informative=5, n_classes=classes, random_state=3)
    X[:, 2] *= 1e-30  # thresholds far from 1: their hex literals must still be exact
    if missing:
        X[np.random.default_rng(1).random(X.shape) < 0.15] = np.nan
    return X, y


@pytest.mark.parametrize("cls", [RandomForestClassifier, ExtraTreesClassifier])
@pytest.mark.parametrize("classes", [2, 5])
@pytest.mark.parametrize("missing", [False, True])
def test_classifier_probabilities_are_bit_identical(cls, classes: int, missing: bool) -> None:
    X, y = data(classes=classes, missing=missing)
    forest = cls(n_estimators=12, max_depth=8, random_state=0).fit(X[:400], y[:400])
    fast = FastForest(forest)
    fast.native = compiled(forest)
    assert np.array_equal(fast.predict_proba(X), forest.predict_proba(X))
    assert np.array_equal(fast.predict(X), forest.predict(X))


@pytest.mark.parametrize("cls", [RandomForestRegressor, ExtraTreesRegressor])
def test_regressor_values_are_bit_identical(cls) -> None:
    X, y = make_regression(n_samples=500, n_features=6, noise=5.0, random_state=2)
    X[np.random.default_rng(2).random(X.shape) < 0.1] = np.nan
    forest = cls(n_estimators=10, max_depth=9, random_state=0).fit(X[:300], y[:300])
    fast = FastForest(forest)
    fast.native = compiled(forest)
    assert np.array_equal(fast.predict(X), forest.predict(X))


def test_missing_values_go_where_scikit_learn_sends_them() -> None:
    """Trained with NaNs, some nodes send a missing value left and others right; both kinds must be honoured."""
    X, y = data(n=800, missing=True)
    forest = RandomForestClassifier(n_estimators=8, random_state=0).fit(X, y)
    kinds = {
        bool(v)
        for e in forest.estimators_
        for v, left in zip(e.tree_.missing_go_to_left, e.tree_.children_left, strict=True)
        if left != -1
    }
    assert kinds == {True, False}
    nan_rows = np.full((5, X.shape[1]), np.nan)
    nan_rows[1:, 0] = np.linspace(-2, 2, 4)
    fast = FastForest(forest)
    fast.native = compiled(forest)
    assert np.array_equal(fast.predict_proba(nan_rows), forest.predict_proba(nan_rows))


def test_threaded_row_split_uses_the_compiled_walk_and_agrees(monkeypatch) -> None:
    from apps.registry import acceleration

    X, y = data(n=3000)
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(X[:1000], y[:1000])
    big = np.vstack([X, X, X])
    monkeypatch.setattr(acceleration, "CPUS", 2)
    monkeypatch.setattr(acceleration, "cpu_idle", lambda: 1.0)
    fast = FastForest(forest, threads=3)
    fast.native = compiled(forest)
    walked: list[int] = []
    monkeypatch.setattr(fast, "_walk", lambda rows: walked.append(len(rows)))  # must not be used
    assert np.array_equal(fast.predict_proba(big), forest.predict_proba(big))
    assert walked == []


def test_fast_forest_switches_to_native_code_when_the_background_compile_is_done(settings, caplog) -> None:
    settings.SERVING_NATIVE_TREES = True
    caplog.set_level("INFO", logger="apps.registry.native")
    X, y = data()
    forest = RandomForestClassifier(n_estimators=6, random_state=0).fit(X, y)
    fast = accelerate(forest, native=True)
    assert native.wait(timeout=120)
    assert isinstance(fast.native, native.NativeForest) and fast.native_status == "ready"
    assert "A forest of 6 trees now runs native code" in caplog.text  # what operators see in the serving log
    assert np.array_equal(fast.predict_proba(X), forest.predict_proba(X))


def test_a_served_model_is_compiled_when_serving_native_trees_is_on(settings) -> None:
    settings.SERVING_NATIVE_TREES = True
    model = forest_model()
    pipe = model.members[0].pipeline
    df = training_frame(n=300)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        save_model(model, path)
        predictor = load_file(str(path), "atelier", inputs=[], classes=["no", "yes"])
    assert native.wait(timeout=120)
    served = predictor.model.members[0].pipeline
    assert isinstance(served, FastPipeline) and isinstance(served.last.native, native.NativeForest)
    rows = df[["x1", "x2", "colour"]]
    assert np.array_equal(served.predict_proba(rows), pipe.predict_proba(rows))


def test_compiled_once_then_taken_from_the_cache_even_by_concurrent_loads(monkeypatch, native_dir: Path) -> None:
    X, y = data()
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    real = native._compile
    calls: list[Path] = []
    monkeypatch.setattr(native, "_compile", lambda *a: (calls.append(a[2]), real(*a)))
    results: list[native.NativeForest] = []
    threads = [threading.Thread(target=lambda: results.append(compiled(forest))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 3
    assert sorted(p.suffix for p in native_dir.iterdir()) == [".lock", ".sig", ".so"]
    again = compiled(forest)
    assert len(calls) == 1
    assert np.array_equal(again.sum(X.astype(np.float32)), results[0].sum(X.astype(np.float32)))


def test_a_changed_cached_object_is_never_loaded(monkeypatch, native_dir: Path, tmp_path: Path) -> None:
    """Someone who can write to the cache puts their own shared object in place of a compiled forest: its signature
    fails, it is removed without being loaded (its constructor would create the canary), and the forest is compiled
    again."""
    X, y = data()
    forest = RandomForestClassifier(n_estimators=4, random_state=0).fit(X, y)
    first = compiled(forest)
    target = next(native_dir.glob("*.so"))
    canary = tmp_path / "canary"
    evil = tmp_path / "evil.c"
    evil.write_text(
        f"#include <stdio.h>\n__attribute__((constructor)) static void run(void) "
        f'{{ FILE *f = fopen("{canary}", "w"); if (f) fclose(f); }}\n'
        f"void atelier_forest_sum(void) {{}}\n"
    )
    compiler_path = native.compiler("cc")[0]
    subprocess.run([compiler_path, "-shared", "-fPIC", "-o", str(target), str(evil)], check=True)
    calls: list[Path] = []
    real = native._compile
    monkeypatch.setattr(native, "_compile", lambda *a: (calls.append(a[2]), real(*a)))
    again = compiled(forest)
    assert not canary.exists()
    assert calls == [target]  # refused, then compiled afresh
    rows = X.astype(np.float32)
    assert np.array_equal(again.sum(rows), first.sum(rows))

    target.with_suffix(".sig").write_text("0" * 64)  # a forged signature on the good file: refused as well
    compiled(forest)
    assert len(calls) == 2


def test_no_compiler_leaves_the_forest_on_fast_forest(settings) -> None:
    settings.SERVING_NATIVE_CC = "no-such-compiler-here"
    X, y = data()
    forest = RandomForestClassifier(n_estimators=4, random_state=0).fit(X, y)
    with pytest.raises(native.NativeUnavailable, match="no C compiler"):
        compiled(forest)
    fast = accelerate(forest, native=True)
    assert native.wait(timeout=30)
    assert fast.native is None
    assert np.array_equal(fast.predict_proba(X), forest.predict_proba(X))


def test_forests_over_the_node_budget_are_not_compiled(settings) -> None:
    X, y = data()
    forest = RandomForestClassifier(n_estimators=4, random_state=0).fit(X, y)
    settings.SERVING_NATIVE_MAX_NODES = 10
    with pytest.raises(native.NativeUnavailable, match="over SERVING_NATIVE_MAX_NODES"):
        compiled(forest)


def fake_tree(left, right, feature, threshold=None):
    n = len(left)
    return SimpleNamespace(
        children_left=np.array(left),
        children_right=np.array(right),
        feature=np.array(feature),
        threshold=np.array(threshold if threshold is not None else [0.5] * n),
        node_count=n,
        missing_go_to_left=np.zeros(n, dtype=np.uint8),
    )


@pytest.mark.parametrize(
    ("tree", "reason"),
    [
        (fake_tree([1, -1, -1], [2, -1, -1], [7, -2, -2]), "feature outside"),  # reads past the row
        (fake_tree([1, -1, -1], [2, -1, -1], [-3, -2, -2]), "feature outside"),
        (fake_tree([1, 0, -1], [2, 2, -1], [0, 0, -2]), "not in the order"),  # a cycle: the walk would never end
        (fake_tree([1, -1, -1], [5, -1, -1], [0, -2, -2]), "not in the order"),  # a child outside the tree
        (fake_tree([1, -1, -1], [-1, -1, -1], [0, -2, -2]), "inconsistent"),
        (fake_tree([1, -1, -1], [2, -1], [0, -2, -2]), "inconsistent"),  # arrays shorter than node_count
    ],
)
def test_malformed_trees_are_refused_before_any_code_is_written(tree, reason: str) -> None:
    with pytest.raises(native.NativeUnavailable, match=reason):
        native.check_trees([tree], n_features=3)


def test_a_leaf_table_shorter_than_its_tree_is_refused() -> None:
    X, y = data()
    forest = RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y)
    fast = FastForest(forest)
    with pytest.raises(native.NativeUnavailable, match="leaf table"):
        native.build(fast.trees, [fast.leaves[0], fast.leaves[1][:-1]], int(fast.n_features_in_))


def test_thresholds_are_written_exactly() -> None:
    tree = fake_tree([1, -1, 3, -1, -1], [2, -1, 4, -1, -1], [0, -2, 1, -2, -2], [0.1, 0.0, float("inf"), 0.0, 0.0])
    source = native.tree_source(0, tree)
    assert "(double)x[0] <= 0x1.999999999999ap-4" in source  # 0.1 as the exact double
    assert "(double)x[1] <= INFINITY" in source
    assert native.check_trees([tree], n_features=2) == 5


def forest_model() -> AtelierModel:
    df = training_frame(n=300)
    pipe = pipeline(RandomForestClassifier(n_estimators=8, random_state=0))
    pipe.fit(df[["x1", "x2", "colour"]], (df["churn"] == "yes").astype(int))
    return AtelierModel(
        problem_type="binary",
        target="churn",
        objective="roc_auc",
        classes=["no", "yes"],
        features=list(FEATURES),
        ignored_columns=["churn"],
        members=[Member("rf-0", "random_forest", 1.0, pipe)],
    )


@pytest.mark.django_db
def test_prepare_serving_compiles_the_forests_of_deployed_models(settings, project_a, mlops_user) -> None:
    settings.SERVING_NATIVE_TREES = True
    version = register(project_a, mlops_user, forest_model(), approve_by=mlops_user)
    endpoint_create(
        project=project_a, user=mlops_user, name="forest-live", variants=[{"model_version": version, "weight": 1}]
    )
    out = StringIO()
    call_command("prepare_serving", "forest-live", stdout=out)
    assert "1 forest(s): ready" in out.getvalue()
    assert len(list(settings.SERVING_NATIVE_DIR.glob("*.so"))) == 1
    with pytest.raises(CommandError, match="No endpoint named nope"):
        call_command("prepare_serving", "nope")


def test_several_forests_in_one_process_each_run_their_own_code() -> None:
    """The dynamic loader hands back an already loaded library for a path it has seen: each load must use a path
    of its own, or a second forest would silently run the first one's trees."""
    X, y = data()
    rows = X.astype(np.float32)
    forests = [
        cls(n_estimators=3, max_depth=4, random_state=seed).fit(X, y)
        for seed, cls in enumerate([RandomForestClassifier, ExtraTreesClassifier, RandomForestClassifier])
    ]
    for forest in forests:
        fast = FastForest(forest)
        fast.native = compiled(forest)
        assert np.array_equal(fast.predict_proba(rows), forest.predict_proba(rows))


def test_a_process_stops_without_waiting_for_a_background_compile() -> None:
    """A serving worker told to stop must not sit out a compile of minutes (a non-daemon thread pool would)."""
    code = (
        "import time, django; django.setup(); from apps.registry import native; "
        "native._submit(lambda: time.sleep(60)); print('submitted', flush=True)"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=50,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "studio.settings.test"},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert "submitted" in done.stdout
    assert time.monotonic() - started < 30


def test_a_failed_compile_is_recorded_and_not_retried(settings, monkeypatch, native_dir: Path) -> None:
    """A compile that failed or timed out would fail again for the same trees and compiler; every serving restart
    paying for it again would waste minutes of CPU. A compiler that is killed at the timeout takes its children."""
    settings.SERVING_NATIVE_TIMEOUT_S = 1
    slow = native_dir.parent / "slow-cc"
    child = f"sleep 30.{os.getpid()}"  # this test's own, not another process's sleep
    slow.write_text(f"#!/bin/sh\n{child} &\nwait\n")  # a driver whose child outlives a kill of the driver alone
    slow.chmod(0o755)
    monkeypatch.setattr(native, "compiler", lambda command: (str(slow), "slow 1 x86_64-linux-gnu"))
    X, y = data()
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    started = time.monotonic()
    with pytest.raises(native.NativeUnavailable, match="took over 1 s"):
        compiled(forest)
    assert time.monotonic() - started < 10
    # a killed process leaves the table when the kernel has reaped it: on busy cores not always by the next line
    wait_for(
        lambda: child not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout,
        timeout=5,
        what="the compiler's child to be gone",
    )
    calls: list[int] = []
    monkeypatch.setattr(native, "_compile", lambda *a: calls.append(1))
    with pytest.raises(native.NativeUnavailable, match="an earlier compile failed"):
        compiled(forest)
    assert calls == []


def test_large_forests_are_compiled_in_several_files_with_the_same_answers(monkeypatch) -> None:
    """gcc's memory grows with the size of a file (~3 GB per million nodes in one file), so the trees go into files
    of about NODES_PER_UNIT nodes, compiled one after the other and linked together."""
    monkeypatch.setattr(native, "NODES_PER_UNIT", 150)
    X, y = data()
    forest = RandomForestClassifier(n_estimators=9, max_depth=6, random_state=0).fit(X, y)
    units = native.forest_sources(FastForest(forest).trees)
    assert len(units) >= 4  # the summing function, then the trees in at least three files
    defined = [re.findall(r"^HIDDEN int32_t t(\d+)\(const float \*x\) \{$", unit, re.MULTILINE) for unit in units]
    assert defined[0] == [] and sorted(int(i) for d in defined[1:] for i in d) == list(range(9))
    fast = FastForest(forest)
    fast.native = compiled(forest)
    assert np.array_equal(fast.predict_proba(X), forest.predict_proba(X))


def test_a_timed_out_compile_is_tried_again_after_a_while(settings, monkeypatch, native_dir: Path) -> None:
    """A compile that ran out of time (a busy machine) is not final, unlike a compiler error."""
    X, y = data()
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    fast = FastForest(forest)
    key_path = native._target(fast.trees, fast.leaves, int(fast.n_features_in_))[1]

    def failing(exc: native.NativeUnavailable):  # type: ignore[no-untyped-def]
        def run(*args):  # type: ignore[no-untyped-def]
            raise exc

        return run

    monkeypatch.setattr(native, "_compile", failing(native.CompileTimedOut("the compiler took over 1 s")))
    with pytest.raises(native.CompileTimedOut):
        compiled(forest)
    with pytest.raises(native.NativeUnavailable, match="an earlier compile failed"):
        compiled(forest)  # not before SERVING_NATIVE_RETRY_AFTER_S
    settings.SERVING_NATIVE_RETRY_AFTER_S = 0
    monkeypatch.undo()  # the real compiler again (and the fixtures' settings stay)
    monkeypatch.setattr(native, "_role", native.ROLE_WORKER)
    assert isinstance(compiled(forest), native.NativeForest)
    assert key_path.exists() and not key_path.with_suffix(".failed").exists()

    other = RandomForestClassifier(n_estimators=2, random_state=1).fit(X, y)
    monkeypatch.setattr(native, "_compile", failing(native.NativeUnavailable("the compiler failed: syntax error")))
    with pytest.raises(native.NativeUnavailable, match="syntax error"):
        compiled(other)
    with pytest.raises(native.NativeUnavailable, match="an earlier compile failed"):
        compiled(other)  # a compiler error is final for these trees and this compiler, however long ago


def test_a_reloaded_forest_maps_its_library_once(monkeypatch) -> None:
    """Serverless endpoints load a model again after each idle spell: that must not map another copy of its code."""
    loads: list[str] = []
    real = native.ctypes.CDLL
    monkeypatch.setattr(native.ctypes, "CDLL", lambda path: loads.append(path) or real(path))
    X, y = data()
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    first, second, third = compiled(forest), compiled(forest), compiled(forest)
    assert len(loads) == 1
    assert first._library is second._library is third._library
    assert np.array_equal(first.sum(X.astype(np.float32)), third.sum(X.astype(np.float32)))


def test_the_web_process_neither_compiles_nor_loads_native_code(settings, monkeypatch, native_dir: Path) -> None:
    settings.SERVING_NATIVE_TREES = True
    monkeypatch.setattr(native, "_role", native.ROLE_WEB)
    calls: list[int] = []
    monkeypatch.setattr(native, "_compile", lambda *a: calls.append(1))
    X, y = data()
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    fast = accelerate(forest, native=True)
    assert native.mode() == "off" and fast.native is None and fast.native_status.startswith("off in this process")
    settings.SERVING_NATIVE_IN_WEB = True  # may load what a worker compiled, still never compiles
    fast = accelerate(forest, native=True)
    assert native.wait(timeout=30)
    assert native.mode() == "load" and calls == [] and fast.native is None
    assert not list(native_dir.glob("*.so"))


@pytest.mark.django_db
def test_a_serving_process_asks_a_worker_to_compile_and_picks_the_code_up(
    settings, monkeypatch, project_a, mlops_user, run_job
) -> None:
    from apps.jobs.models import Job
    from apps.registry.loading import load_version
    from apps.registry.services import COMPILE_KIND

    settings.SERVING_NATIVE_TREES = True
    monkeypatch.setattr(native, "POLL_S", 0.1)
    version = register(project_a, mlops_user, forest_model(), approve_by=mlops_user)
    monkeypatch.setattr(native, "_role", native.ROLE_SERVING)
    compiles: list[int] = []
    real = native._compile
    monkeypatch.setattr(native, "_compile", lambda *a: compiles.append(1) or real(*a))
    served = load_version(version)
    load_version(version)  # a second serving process (or a reload): still one job
    forest = served.model.members[0].pipeline.last
    assert forest.native is None and forest.native_status == "waiting for a worker to compile it"
    jobs = list(Job.objects.filter(kind=COMPILE_KIND))
    assert len(jobs) == 1 and jobs[0].params == {"version": version.pk} and jobs[0].project_id == project_a.pk
    assert compiles == [], "the serving process must not run the compiler"
    done = run_job(jobs[0])  # the worker's side
    assert done.status == "succeeded", done.message
    assert compiles == [1] and done.result["forests"] == 1
    deadline = time.monotonic() + 30
    while forest.native is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert isinstance(forest.native, native.NativeForest) and forest.native_status == "ready"
    rows = training_frame(n=50)[["x1", "x2", "colour"]]
    assert np.array_equal(
        served.model.members[0].pipeline.predict_proba(rows), forest_model().members[0].pipeline.predict_proba(rows)
    )
    assert not native.needs_compile(forest.trees, forest.leaves, int(forest.n_features_in_))
