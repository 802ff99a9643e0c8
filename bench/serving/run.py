"""Serving benchmark: the same scikit-learn models (a 100-tree random forest and a logistic regression) served by
Atelier's endpoint and by `mlflow models serve` (from the MLflow directory Atelier exports), with the same number
of server worker processes, the same payloads (1, 100 and 10,000 rows, as JSON `dataframe_split` and as CSV) and
closed-loop load at 1, 8 and 32 connections from a separate process (wrk). Prints throughput, p50, p99 and errors
for both, and the ratios (Atelier / MLflow for throughput, MLflow / Atelier for latency: above 1 = Atelier better).

Usage (from the repository root; needs `wrk`, Debian package `wrk`):
    .venv/bin/python bench/serving/run.py                 # the full run (~20 minutes)
    .venv/bin/python bench/serving/run.py --quick         # smoke: 3 s per cell, 1 and 8 connections
    .venv/bin/python bench/serving/run.py --models rf --rows 100 --connections 8 --duration 10

The first run creates bench/.venv-serving (MLflow + Atelier's pins of numpy, pandas, scikit-learn, LightGBM …) so that
MLflow predicts with the same libraries as Atelier. Atelier runs from the main .venv on a throw-away database and
var/ directory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
ROOT = BENCH.parent
VENV = BENCH / ".venv-serving"
PEER_PY = VENV / "bin" / "python"
MAIN_PY = ROOT / ".venv" / "bin" / "python"
REQUIREMENTS = [BENCH / "requirements-serving-peers.txt"]
OUT = BENCH / "out" / "serving"
FORMATS = {"json": "application/json", "csv": "text/csv"}


MODEL_LIBS = ("numpy", "pandas", "scikit-learn", "scipy", "lightgbm", "joblib", "threadpoolctl", "optuna")


def model_pins() -> list[str]:
    """Atelier's own pins of the libraries an exported model needs (MLflow must predict with the same ones); the
    rest of requirements.txt is not installed there (MLflow pins its own pyarrow, for one)."""
    pins = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name = line.split("==")[0].strip().lower()
        if name in MODEL_LIBS:
            pins.append(line.split("#")[0].strip())
    return pins


def ensure_venv() -> None:
    pins = model_pins()
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in REQUIREMENTS) + "\n".join(pins).encode()).hexdigest()
    stamp = VENV / ".installed"
    if PEER_PY.exists() and stamp.exists() and stamp.read_text() == digest:
        return
    print(f"setting up {VENV} (a few minutes the first time) …", flush=True)
    if not PEER_PY.exists():
        subprocess.run(["python3.11", "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [str(PEER_PY), "-m", "pip", "install", "-q", "-r", str(BENCH / "requirements-serving-peers.txt"), *pins],
        check=True,
    )
    stamp.write_text(digest)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


NATIVE = {"on": True}


def atelier_env(work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ATELIER_VAR_DIR": str(work / "var"),
        "DJANGO_SETTINGS_MODULE": "studio.settings.base",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        "SERVING_NATIVE_TREES": "1" if NATIVE["on"] else "0",
    }


def setup_atelier(work: Path, models: list[str]) -> dict:
    """A fresh Atelier (own DB and var/), the models registered, approved and deployed, and their MLflow exports."""
    env = atelier_env(work)
    subprocess.run([str(MAIN_PY), "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [str(MAIN_PY), str(HERE / "setup_atelier.py"), str(work), ",".join(models)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    # Forests compiled to native code ahead of serving, as a deploy would (`manage.py prepare_serving`); the serving
    # workers then find them in the cache. Its time is printed: it is paid once per model and machine.
    started = time.monotonic()
    prepared = subprocess.run(
        [str(MAIN_PY), "manage.py", "prepare_serving"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    print(f"prepare_serving ({time.monotonic() - started:.1f} s):\n{prepared.stdout.strip()}", flush=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_atelier(work: Path, workers: int, port: int) -> subprocess.Popen:
    cmd = [
        str(MAIN_PY),
        "-m",
        "uvicorn",
        "studio.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
        "--ws",
        "none",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=atelier_env(work), start_new_session=True)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc


def start_mlflow(model_dir: str, workers: int, port: int) -> subprocess.Popen:
    cmd = [
        str(PEER_PY),
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        model_dir,
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        str(workers),
        "--env-manager",
        "local",
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"  # mlflow execs `uvicorn` from PATH
    proc = subprocess.Popen(
        cmd, cwd=model_dir, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_http(f"http://127.0.0.1:{port}/ping")
    return proc


def write_payloads(work: Path, sample_csv: str, rows: list[int]) -> dict[tuple[int, str], Path]:
    import pandas as pd

    frame = pd.read_csv(sample_csv)
    out = {}
    for n in rows:
        part = frame.sample(n=n, replace=n > len(frame), random_state=n).reset_index(drop=True)
        split = {"dataframe_split": {"columns": list(part.columns), "data": part.to_numpy().tolist()}}
        out[(n, "json")] = work / f"payload_{n}.json"
        out[(n, "json")].write_text(json.dumps(split))
        out[(n, "csv")] = work / f"payload_{n}.csv"
        part.to_csv(out[(n, "csv")], index=False)
    return out


def predictions(url: str, key: str, payload: Path) -> list:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url, data=payload.read_bytes(), headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        return [str(p) for p in json.loads(r.read())["predictions"]]


def run_wrk(url: str, payload: Path, content_type: str, key: str, connections: int, duration: float) -> dict:
    env = {**os.environ, "BENCH_PAYLOAD": str(payload), "BENCH_CONTENT_TYPE": content_type, "BENCH_KEY": key}
    cmd = [
        "wrk",
        "-t",
        str(min(connections, 2)),
        "-c",
        str(connections),
        "-d",
        f"{duration:g}s",
        "--timeout",
        "30s",
        "-s",
        str(HERE / "load.lua"),
        url,
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("JSON "))
    r = json.loads(line[5:])
    errors = r["non2xx"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
    return {
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "errors": errors,
        "requests": r["requests"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="rf,lr")
    ap.add_argument("--rows", default="1,100,10000")
    ap.add_argument("--formats", default="json,csv")
    ap.add_argument("--connections", default="1,8,32")
    ap.add_argument("--duration", type=float, default=8.0, help="seconds of load per cell")
    ap.add_argument("--workers", type=int, default=2, help="server worker processes, the same for both")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-native", action="store_true", help="serve forests without compiling them to native code")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.quick:
        args.duration, args.connections, args.rows = 3.0, "1,8", "1,100"
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    NATIVE["on"] = not args.no_native
    models = args.models.split(",")
    rows = [int(r) for r in args.rows.split(",")]
    formats = args.formats.split(",")
    conns = [int(c) for c in args.connections.split(",")]
    ensure_venv()
    work = Path(tempfile.mkdtemp(prefix="atelier-serving-"))
    results: list[dict] = []
    try:
        setup = setup_atelier(work, models)
        payloads = write_payloads(work, setup["sample_csv"], rows)
        for model in models:
            info = setup["models"][model]
            reference: list = []
            for system in ("atelier", "mlflow"):
                port = free_port()
                if system == "atelier":
                    proc = start_atelier(work, args.workers, port)
                    url, key = f"http://127.0.0.1:{port}/endpoints/{info['endpoint']}/invocations", info["key"]
                else:
                    proc = start_mlflow(info["mlflow_dir"], args.workers, port)
                    url, key = f"http://127.0.0.1:{port}/invocations", ""
                try:
                    # Both must answer the same predictions to the same request, else the comparison is moot.
                    got = predictions(url, key, payloads[(rows[-1], "json")])
                    reference = reference if system == "mlflow" else got
                    if got != reference:
                        raise SystemExit(
                            f"{model}: MLflow and Atelier predict differently: {got[:5]} vs {reference[:5]}"
                        )
                    for n in rows:
                        for fmt in formats:
                            run_wrk(url, payloads[(n, fmt)], FORMATS[fmt], key, 1, 1.0)  # warm up
                            for c in conns:
                                r = run_wrk(url, payloads[(n, fmt)], FORMATS[fmt], key, c, args.duration)
                                r.update(system=system, model=model, rows=n, format=fmt, connections=c)
                                results.append(r)
                                print(
                                    f"{system:8} {model:3} rows={n:<6} {fmt:4} c={c:<3} {r['rps']:9.1f} req/s "
                                    f"p50 {r['p50_ms']:8.2f} ms p99 {r['p99_ms']:8.2f} ms errors {r['errors']}",
                                    flush=True,
                                )
                finally:
                    stop(proc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    name = "results_quick.json" if args.quick else "results.json"
    report(results, args, Path(args.out) if args.out else OUT / name)


def report(results: list[dict], args: argparse.Namespace, path: Path) -> None:
    by = {(r["system"], r["model"], r["rows"], r["format"], r["connections"]): r for r in results}
    print("\nthroughput ratio = Atelier / MLflow; latency ratios = MLflow / Atelier (above 1: Atelier better)")
    head = (
        f"{'model':5} {'rows':>6} {'fmt':4} {'conn':>4} | {'Atelier rps':>11} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'err':>4} | {'MLflow rps':>10} {'p50 ms':>8} {'p99 ms':>8} {'err':>4} | {'rps x':>6} {'p50 x':>6} "
        f"{'p99 x':>6}"
    )
    print(head)
    print("-" * len(head))
    ratios = []
    for (system, model, n, fmt, c), a in sorted(by.items(), key=lambda kv: kv[0][1:]):
        if system != "atelier" or ("mlflow", model, n, fmt, c) not in by:
            continue
        m = by[("mlflow", model, n, fmt, c)]
        rr = (
            a["rps"] / m["rps"] if m["rps"] else float("inf"),
            m["p50_ms"] / a["p50_ms"] if a["p50_ms"] else float("inf"),
            m["p99_ms"] / a["p99_ms"] if a["p99_ms"] else float("inf"),
        )
        ratios.append(rr)
        print(
            f"{model:5} {n:>6} {fmt:4} {c:>4} | {a['rps']:>11.1f} {a['p50_ms']:>8.2f} {a['p99_ms']:>8.2f} "
            f"{a['errors']:>4} | {m['rps']:>10.1f} {m['p50_ms']:>8.2f} {m['p99_ms']:>8.2f} {m['errors']:>4} | "
            f"{rr[0]:>6.2f} {rr[1]:>6.2f} {rr[2]:>6.2f}"
        )
    if ratios:
        import statistics

        geo = [statistics.geometric_mean([r[i] for r in ratios]) for i in range(3)]
        print(
            f"geometric mean over {len(ratios)} cells: throughput x{geo[0]:.2f}, p50 x{geo[1]:.2f}, "
            f"p99 x{geo[2]:.2f}; "
            f"cells with throughput >= 1.5x: {sum(r[0] >= 1.5 for r in ratios)}/{len(ratios)}; "
            f"errors Atelier {sum(r['errors'] for r in results if r['system'] == 'atelier')}, "
            f"MLflow {sum(r['errors'] for r in results if r['system'] == 'mlflow')}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": vars(args), "load_avg_end": os.getloadavg(), "results": results}, indent=1))
    print(f"\nresults: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    sys.exit(main())
