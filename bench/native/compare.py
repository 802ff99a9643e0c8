"""Forest inference engines side by side, for docs/adr/0003-native-forests.md: the same 100-tree random forest on
the same 10,000 rows, answered by scikit-learn, Atelier's FastForest (numpy walk), Atelier's compiled forest
(apps/registry/native.py), onnxruntime (skl2onnx conversion) and treelite + tl2cgen (if installed:
`pip install --no-deps --target bench/.venv-native/site treelite tl2cgen`). Prints the median time per call, the
ratio to scikit-learn, whether the probabilities are bit-identical to scikit-learn's, and the time to prepare each
engine (conversion or compile).

    .venv/bin/python bench/native/compare.py [--trees 100] [--rows 10000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
extra = ROOT / "bench" / ".venv-native" / "site"
if extra.exists():
    sys.path.append(str(extra))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings.base")
os.environ.setdefault("ATELIER_VAR_DIR", tempfile.mkdtemp(prefix="atelier-bench-native-"))

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402

from apps.registry import native  # noqa: E402
from apps.registry.acceleration import FastForest  # noqa: E402


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure_tl2cgen(forest, rows, expected, repeat: int) -> None:  # type: ignore[no-untyped-def]
    import tl2cgen
    import treelite

    started = time.perf_counter()
    model = treelite.sklearn.import_model(forest)
    with tempfile.TemporaryDirectory() as work:
        library = Path(work) / "forest.so"
        tl2cgen.export_lib(model, toolchain="gcc", libpath=str(library), params={"parallel_comp": 8}, nthread=1)
        predictor = tl2cgen.Predictor(str(library), nthread=1)
        built = f"compile {time.perf_counter() - started:.1f} s"
        proba = np.asarray(predictor.predict(tl2cgen.DMatrix(rows, dtype="float32"))).reshape(len(rows), -1)
        if proba.shape[1] == 1:
            proba = np.hstack([1 - proba, proba])
        ms = timed(lambda: predictor.predict(tl2cgen.DMatrix(rows, dtype="float32")), repeat)
    print(f"tl2cgen max |diff| vs scikit-learn: {np.abs(proba - expected).max():.2e}")
    print("TL2CGEN " + json.dumps([ms, bool(np.array_equal(proba, expected)), built]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--tl2cgen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tl2cgen-timeout", type=float, default=900)
    args = parser.parse_args()
    X, y = make_classification(n_samples=20_000, n_features=20, n_informative=12, random_state=0)
    forest = RandomForestClassifier(n_estimators=args.trees, n_jobs=1, random_state=0).fit(X, y)
    rows = X[: args.rows].astype(np.float32)
    expected = forest.predict_proba(rows)
    if args.tl2cgen:
        measure_tl2cgen(forest, rows, expected, args.repeat)
        return
    nodes = sum(e.tree_.node_count for e in forest.estimators_)
    print(f"forest: {args.trees} trees, {nodes:,} nodes; {args.rows:,} rows x 20 features; one thread each")
    results: list[tuple[str, float, bool, str]] = []

    results.append(("scikit-learn predict_proba", timed(lambda: forest.predict_proba(rows), args.repeat), True, "-"))
    fast = FastForest(forest)
    results.append(
        (
            "Atelier FastForest (numpy walk)",
            timed(lambda: fast.predict_proba(rows), args.repeat),
            bool(np.array_equal(fast.predict_proba(rows), expected)),
            "-",
        )
    )

    settings.SERVING_NATIVE_DIR = Path(tempfile.mkdtemp(prefix="native-"))
    native.set_role(native.ROLE_COMMAND)
    started = time.perf_counter()
    fast.native = native.build(fast.trees, fast.leaves, int(fast.n_features_in_))
    built = f"compile {time.perf_counter() - started:.1f} s"
    results.append(
        (
            "Atelier native (C per tree, gcc -O1)",
            timed(lambda: fast.predict_proba(rows), args.repeat),
            bool(np.array_equal(fast.predict_proba(rows), expected)),
            built,
        )
    )

    try:
        import onnxruntime
        from skl2onnx import to_onnx

        started = time.perf_counter()
        onx = to_onnx(forest, rows[:1], options={id(forest): {"zipmap": False}})
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            onx.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
        )
        built = f"convert {time.perf_counter() - started:.1f} s"
        name = session.get_inputs()[0].name
        proba = session.run(None, {name: rows})[1]
        results.append(
            (
                "onnxruntime (skl2onnx)",
                timed(lambda: session.run(None, {name: rows}), args.repeat),
                bool(np.array_equal(np.asarray(proba, dtype=np.float64), expected)),
                built,
            )
        )
        print(f"onnxruntime max |diff| vs scikit-learn: {np.abs(np.asarray(proba) - expected).max():.2e}")
    except ImportError as exc:
        print(f"onnxruntime: not measured ({exc})")

    # tl2cgen 1.0 bundles an older treelite than the one that imports the model: run it in a child process, so that
    # a crash there is reported instead of ending the benchmark
    try:
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--tl2cgen",
                "--trees",
                str(args.trees),
                "--rows",
                str(args.rows),
                "--repeat",
                str(args.repeat),
            ],
            capture_output=True,
            text=True,
            timeout=args.tl2cgen_timeout,
        )
    except subprocess.TimeoutExpired as exc:
        child = subprocess.CompletedProcess(exc.cmd, -1, str(exc.stdout or ""), f"timed out after {exc.timeout} s")
    line = [x for x in child.stdout.splitlines() if x.startswith("TL2CGEN ")]
    if line:
        ms, same, built = json.loads(line[-1][len("TL2CGEN ") :])
        results.append(("treelite + tl2cgen", ms, same, built))
    else:
        print(f"treelite + tl2cgen: not measured (exit {child.returncode}: {(child.stdout + child.stderr)[-300:]})")

    base = results[0][1]
    print()
    print(f"| engine | ms per {args.rows:,} rows | x scikit-learn | bit-identical | preparation |")
    print("|---|---|---|---|---|")
    for name, ms, same, built in results:
        print(f"| {name} | {ms:.1f} | {base / ms:.2f} | {'yes' if same else 'no'} | {built} |")


if __name__ == "__main__":
    main()
