"""Benchmark Atelier's Canvas AutoML (quick mode) against FLAML on real datasets that ship inside PyPI packages.

Every fit runs in its own subprocess from bench/.venv-automl (the same numpy / scikit-learn / LightGBM for both
systems), on identical seeded outer splits, with the same time budget and n_jobs. A default HistGradientBoosting
and a constant predictor are the reference points: normalised score = (score - constant) / (best - constant),
where best is the best of the systems on that dataset and budget (losses are negated first), so 0 = constant and
1 = best. A failed fit scores 0.

Usage (from the repository root):
    .venv/bin/python bench/automl/run.py --quick                      # smoke: 2 datasets, 10 s budget
    .venv/bin/python bench/automl/run.py --budgets 60,300 --datasets all
    .venv/bin/python bench/automl/run.py --budgets 60 --datasets wine,diabetes --outer-folds 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
ROOT = BENCH.parent
VENV = BENCH / ".venv-automl"
PY = VENV / "bin" / "python"
REQUIREMENTS = [ROOT / "requirements.txt", BENCH / "requirements-automl-peers.txt"]
OUT = BENCH / "out" / "automl"
SYSTEMS = ["atelier", "flaml", "hgb", "constant"]
COMPETITORS = ["atelier", "flaml", "hgb"]
HIGHER_IS_BETTER = {"roc_auc": True, "log_loss": False, "rmse": False}

sys.path.insert(0, str(HERE))
from datasets import DATASETS, QUICK  # noqa: E402


def ensure_venv() -> None:
    """Create bench/.venv-automl with the main requirements and the peers; reinstall when they change."""
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in REQUIREMENTS)).hexdigest()
    stamp = VENV / ".installed"
    if PY.exists() and stamp.exists() and stamp.read_text() == digest:
        return
    print(f"setting up {VENV} (a few minutes the first time) …", flush=True)
    if not PY.exists():
        subprocess.run(["python3.11", "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    args = [a for p in REQUIREMENTS for a in ("-r", str(p))]
    subprocess.run([str(PY), "-m", "pip", "install", "-q", *args], check=True)
    stamp.write_text(digest)


def run_job(system: str, dataset: str, budget: float, fold: int, outer_folds: int, seed: int, n_jobs: int) -> dict:
    cmd = [
        str(PY),
        str(HERE / "job.py"),
        "--system",
        system,
        "--dataset",
        dataset,
        "--budget",
        str(budget),
        "--fold",
        str(fold),
        "--outer-folds",
        str(outer_folds),
        "--seed",
        str(seed),
        "--n-jobs",
        str(n_jobs),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0"}
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=budget * 3 + 120)
    except subprocess.TimeoutExpired:
        return {
            "system": system,
            "dataset": dataset,
            "budget": budget,
            "fold": fold,
            "error": "killed: ran past 3x the budget + 120 s",
            "wall_s": time.monotonic() - start,
        }
    wall = time.monotonic() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {
            "system": system,
            "dataset": dataset,
            "budget": budget,
            "fold": fold,
            "wall_s": wall,
            "error": f"exit {proc.returncode}: {proc.stderr.strip()[-500:]}",
        }
    out = json.loads(lines[-1])
    out["wall_s"] = round(wall, 2)
    return out


def summarise(results: list[dict], budgets: list[float], datasets: list[str]) -> dict:
    """Mean score over outer folds per (budget, dataset, system); normalised scores, wins, failures."""
    table: dict = {}
    for b in budgets:
        for d in datasets:
            rows = [r for r in results if r["budget"] == b and r["dataset"] == d]
            cell: dict = {}
            for s in SYSTEMS:
                mine = [r for r in rows if r["system"] == s]
                ok = [r["score"] for r in mine if "score" in r]
                failed = len(mine) - len(ok)
                metric = next((r["metric"] for r in rows if "metric" in r), None)
                cell[s] = {
                    "score": sum(ok) / len(ok) if ok and not failed else None,
                    "failed": failed,
                    "metric": metric,
                    "wall_s": round(sum(r.get("wall_s", 0.0) for r in mine) / max(1, len(mine)), 1),
                }
            metric = next((c["metric"] for c in cell.values() if c["metric"]), "rmse")
            sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
            const = cell["constant"]["score"]
            scores = {s: cell[s]["score"] for s in COMPETITORS if cell[s]["score"] is not None}
            best = max((sign * v for v in scores.values()), default=None)
            for s in COMPETITORS:
                v = cell[s]["score"]
                if v is None or const is None or best is None or best == sign * const:
                    cell[s]["normalised"] = 0.0
                else:
                    cell[s]["normalised"] = (sign * v - sign * const) / (best - sign * const)
            winners = [s for s in scores if best is not None and sign * scores[s] == best]
            table.setdefault(str(b), {})[d] = {"metric": metric, "systems": cell, "winners": winners}
    summary: dict = {}
    for b, per in table.items():
        summary[b] = {
            s: {
                "mean_normalised": sum(c["systems"][s]["normalised"] for c in per.values()) / len(per),
                "wins": sum(1 for c in per.values() if s in c["winners"]),
                "failures": sum(c["systems"][s]["failed"] for c in per.values()),
            }
            for s in COMPETITORS
        }
    return {"table": table, "summary": summary}


def print_report(report: dict) -> None:
    for b, per in report["table"].items():
        print(f"\n=== budget {b} s per fit ===")
        print(f"{'dataset':<18} {'metric':<8} " + " ".join(f"{s:>20}" for s in SYSTEMS))
        for d, cell in per.items():
            parts = []
            for s in SYSTEMS:
                c = cell["systems"][s]
                if c["score"] is None:
                    parts.append(f"{'FAILED':>20}")
                    continue
                norm = f" ({c['normalised']:.2f})" if s in COMPETITORS else ""
                parts.append(f"{c['score']:>13.4f}{norm:>7}")
            print(f"{d:<18} {cell['metric']:<8} " + " ".join(parts))
        print(
            f"{'mean normalised':<27} "
            + " ".join(f"{report['summary'][b][s]['mean_normalised']:>20.3f}" for s in COMPETITORS)
        )
        print(f"{'wins':<27} " + " ".join(f"{report['summary'][b][s]['wins']:>20d}" for s in COMPETITORS))
        print(f"{'failures':<27} " + " ".join(f"{report['summary'][b][s]['failures']:>20d}" for s in COMPETITORS))
        walls = {s: [c["systems"][s]["wall_s"] for c in per.values()] for s in COMPETITORS}
        print(f"{'mean wall s / fit':<27} " + " ".join(f"{sum(w) / len(w):>20.1f}" for w in walls.values()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budgets", default="60,300", help="seconds per fit, comma-separated")
    ap.add_argument("--datasets", default="all", help=f"'all' or a comma-separated subset of: {', '.join(DATASETS)}")
    ap.add_argument("--outer-folds", type=int, default=1, help="1 = one seeded 75/25 split; k = k-fold outer CV")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 datasets, 10 s budget")
    ap.add_argument("--out", default=None, help="results JSON path (default bench/out/automl/results*.json)")
    args = ap.parse_args()
    budgets = [10.0] if args.quick else [float(b) for b in args.budgets.split(",")]
    datasets = QUICK if args.quick else (list(DATASETS) if args.datasets == "all" else args.datasets.split(","))
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        raise SystemExit(f"unknown dataset(s): {', '.join(unknown)}")
    systems = args.systems.split(",")
    ensure_venv()
    OUT.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    total = len(budgets) * len(datasets) * args.outer_folds * len(systems)
    n = 0
    for b in budgets:
        for d in datasets:
            for fold in range(args.outer_folds):
                for s in systems:
                    n += 1
                    r = run_job(s, d, b, fold, args.outer_folds, args.seed, args.n_jobs)
                    results.append(r)
                    shown = f"{r['score']:.4f}" if "score" in r else f"ERROR {r.get('error', '')[:200]}"
                    print(
                        f"[{n}/{total}] budget={b:g} {d} fold={fold} {s}: {shown}  ({r.get('wall_s', 0):.1f} s)",
                        flush=True,
                    )
    report = summarise(results, budgets, datasets)
    report["config"] = {
        "budgets": budgets,
        "datasets": datasets,
        "outer_folds": args.outer_folds,
        "seed": args.seed,
        "n_jobs": args.n_jobs,
        "load_avg_end": os.getloadavg(),
    }
    report["runs"] = results
    print_report(report)
    path = Path(args.out) if args.out else OUT / ("results_quick.json" if args.quick else "results.json")
    path.write_text(json.dumps(report, indent=1, default=str))
    print(f"\nresults: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
