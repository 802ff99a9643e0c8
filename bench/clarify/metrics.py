"""All 21 Clarify bias metrics on generated rows, Atelier (apps/clarify/engine/bias.py) against SageMaker Clarify's
own metric library smclarify, in one run. Each side runs in its own child process on the same seeded data (a binary
label, two facets: `sex` with sensitive value F and `race` with sensitive values B and C, a group variable `region`
with 10 values, three numeric features for FlipTest, and a model's binary predictions), so its peak memory is its
own. Prints, per side, the time of the pre-training metrics, the 12 post-training metrics that are counts, FlipTest
(a k-NN on the features: the same scikit-learn search on both sides, so it bounds the ratio), the total, and the
peak memory the metrics added (VmHWM reset after the data is built, then read when they are done); then the ratios
and the largest difference between the two sides' values (they must agree within 1e-9).

    .venv/bin/python bench/clarify/metrics.py                    # 1,000,000 rows (smclarify takes minutes)
    .venv/bin/python bench/clarify/metrics.py --rows 100000      # a quicker run
    .venv/bin/python bench/clarify/metrics.py --skip-smclarify   # Atelier only

One run (1,000,000 rows, 2 cores shared with other work, load average ~6): Atelier 13.0 s wall / 5.1 s CPU, smclarify
155 s / 64.6 s, 11.9x / 12.6x; the 20 count metrics 65-109x, FlipTest 7.5x (CPU); peak memory added 118 MB vs
235 MB; the 42 values agree within 6e-17.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

FEATURES = ["income", "age", "score"]
FACETS = {"sex": ["F"], "race": ["B", "C"]}
GROUP = "region"
POST_COUNTS = ["AD", "CDDPL", "DAR", "DCA", "DCR", "DI", "DPPL", "DRR", "GE", "RD", "SD", "TE"]
PRE = ["CDDL", "CI", "DPL", "JS", "KL", "KS", "LP", "TVD"]


def generate(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(np.array(["F", "M"], dtype=object), rows, p=[0.4, 0.6])
    race = rng.choice(np.array(["A", "B", "C", "D"], dtype=object), rows, p=[0.55, 0.2, 0.15, 0.1])
    region = rng.choice(np.array([f"r{i}" for i in range(10)], dtype=object), rows)
    income = rng.lognormal(10.5, 0.5, rows).round(2)
    age = rng.integers(18, 90, rows).astype(np.float64)
    score = rng.normal(600, 80, rows).round(1)
    logit = -0.5 + 0.6 * (sex == "M") - 0.3 * np.isin(race, ["B", "C"]) + (score - 600) / 100 + (income > 40000)
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    predicted = (rng.random(rows) < 1 / (1 + np.exp(-(logit + 0.2 * (sex == "M"))))).astype(np.int64)
    frame = pd.DataFrame(
        {"sex": sex, "race": race, "region": region, "income": income, "age": age, "score": score, "label": label}
    )
    frame["predicted"] = predicted
    for column in ("sex", "race", "region"):  # smclarify needs object, not pandas 3's string dtype
        frame[column] = frame[column].astype(object)
    return frame


def _status(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return math.nan


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM := VmRSS


class Clock:
    """Wall and CPU seconds per part (CPU time is what a busy shared machine distorts least)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def add(self, part: str, wall: float, cpu: float) -> None:
        self.wall[part] = self.wall.get(part, 0.0) + wall
        self.cpu[part] = self.cpu.get(part, 0.0) + cpu


def timed(clock: Clock, part: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    clock.add(part, time.perf_counter() - wall, time.process_time() - cpu)
    return result


def run_atelier(df: pd.DataFrame) -> tuple[Clock, dict[str, Any]]:
    from apps.clarify.engine.bias import FacetSpec, LabelSpec, post_training_bias, pre_training_bias

    label = LabelSpec("label", (1,))
    facets = [FacetSpec(name, tuple(values)) for name, values in FACETS.items()]
    clock = Clock()
    pre = timed(clock, "pre-training (8)", lambda: pre_training_bias(df, label=label, facets=facets, group=GROUP))
    post = timed(
        clock,
        "post-training counts (12)",
        lambda: post_training_bias(
            df, label=label, predicted=df["predicted"], facets=facets, group=GROUP, metrics=POST_COUNTS
        ),
    )
    ft = timed(
        clock,
        "FlipTest (1)",
        lambda: post_training_bias(
            df,
            label=label,
            predicted=df["predicted"],
            facets=facets,
            group=GROUP,
            features=df[FEATURES],
            metrics=["FT"],
        ),
    )
    values: dict[str, Any] = {}
    for result in (pre, post, ft):
        for facet, entries in result["facets"].items():
            for metric in entries[0]["metrics"]:
                values[f"{facet} {metric['name']}"] = metric["value"]
    return clock, values


def run_smclarify(df: pd.DataFrame) -> tuple[Clock, dict[str, Any]]:
    from smclarify.bias import report as sm

    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    clock = Clock()
    values: dict[str, Any] = {}
    for facet, sensitive in FACETS.items():
        # smclarify reads FlipTest's features from every column it is given but facet, label and predicted label.
        data = df[[facet, "label", *FEATURES, "predicted"]]
        label = sm.LabelColumn("label", data["label"], [1])
        predicted = sm.LabelColumn("predicted", data["predicted"], [1])
        column = sm.FacetColumn(facet, list(sensitive))
        runs = [
            ("pre-training (8)", sm.StageType.PRE_TRAINING, PRE),
            ("post-training counts (12)", sm.StageType.POST_TRAINING, POST_COUNTS),
            ("FlipTest (1)", sm.StageType.POST_TRAINING, ["FT"]),
        ]
        for part, stage, metrics in runs:
            post = stage == sm.StageType.POST_TRAINING
            result = timed(
                clock,
                part,
                sm.bias_report,
                data,
                column,
                label,
                stage,
                predicted if post else None,
                metrics=metrics,
                group_variable=df[GROUP],
            )
            for metric in result[0]["metrics"]:
                value = metric["value"]
                if isinstance(value, str):
                    value = float(value.replace("Infinity", "inf"))
                values[f"{facet} {metric['name']}"] = value
    return clock, values


def child(side: str, rows: int, seed: int) -> None:
    import sklearn.neighbors  # noqa: F401  both sides use its k-NN: imported before the clock starts

    df = generate(rows, seed)
    baseline = _status("VmRSS")
    _reset_peak()
    clock, values = (run_atelier if side == "atelier" else run_smclarify)(df)
    peak = _status("VmHWM")
    payload = {"wall": clock.wall, "cpu": clock.cpu, "values": values, "peak_added_mb": peak - baseline}
    print("RESULT " + json.dumps(payload))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-smclarify", action="store_true")
    parser.add_argument("--side", choices=["atelier", "smclarify"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        child(args.side, args.rows, args.seed)
        return

    print(f"{args.rows:,} rows; facets sex (F) and race (B,C), group region (10), FlipTest on {', '.join(FEATURES)}")
    results: dict[str, dict[str, Any]] = {}
    for side in ["atelier"] + ([] if args.skip_smclarify else ["smclarify"]):
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, __file__, "--side", side, "--rows", str(args.rows), "--seed", str(args.seed)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode or not line:
            raise SystemExit(f"{side} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        results[side] = json.loads(line[-1][len("RESULT ") :])
        print(f"  {side}: done in {time.perf_counter() - started:.1f} s (child process, data generation included)")

    parts = [*results["atelier"]["wall"], "total (21 metrics x 2 facets)"]
    print()
    if len(results) == 1:
        print("| part | Atelier wall s | Atelier CPU s |\n|---|---|---|")
        for part in parts:
            wall, cpu = _part(results["atelier"], "wall", part), _part(results["atelier"], "cpu", part)
            print(f"| {part} | {wall:.3f} | {cpu:.3f} |")
        print(f"| peak memory added, MB | {results['atelier']['peak_added_mb']:.0f} | |")
        return
    print("| part | Atelier wall s | smclarify wall s | x (wall) | Atelier CPU s | smclarify CPU s | x (CPU) |")
    print("|---|---|---|---|---|---|---|")
    for part in parts:
        cells = []
        for kind in ("wall", "cpu"):
            ours, theirs = _part(results["atelier"], kind, part), _part(results["smclarify"], kind, part)
            cells.append(f"{ours:.3f} | {theirs:.2f} | {theirs / ours:.1f}")
        print(f"| {part} | {cells[0]} | {cells[1]} |")
    ours_mem, theirs_mem = results["atelier"]["peak_added_mb"], results["smclarify"]["peak_added_mb"]
    print(f"| peak memory added, MB | {ours_mem:.0f} | {theirs_mem:.0f} | {theirs_mem / max(ours_mem, 1):.1f} | | | |")
    a, b = results["atelier"]["values"], results["smclarify"]["values"]
    assert set(a) == set(b), set(a) ^ set(b)
    worst = max(abs(a[k] - b[k]) if a[k] != b[k] else 0.0 for k in a)
    print(f"\n{len(a)} values compared; largest |Atelier - smclarify| = {worst:.2e}")
    print(f"load average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])} (2 cores shared)")


def _part(result: dict[str, Any], kind: str, part: str) -> float:
    times = result[kind]
    return sum(times.values()) if part.startswith("total") else times[part]


if __name__ == "__main__":
    main()
