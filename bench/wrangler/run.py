"""Benchmark Atelier's data profile against ydata-profiling (minimal=True) on the same seeded CSV.

Each system runs in its own subprocess; the wall time and the peak RSS of that WHOLE process (interpreter start,
imports, CSV load, profile, JSON) are measured from outside: ``os.wait4`` gives the child's ``ru_maxrss`` and a
sampler thread polls /proc for the RSS of the child's process tree (the larger of the two is reported).

Usage: .venv/bin/python bench/wrangler/run.py [--rows 1000000] [--repeat 1] [--skip-peer]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
ROOT = BENCH.parent
PEER_VENV = BENCH / ".venv-peers"
PEER_REQUIREMENTS = BENCH / "requirements-peers.txt"
TIME_GOAL = 0.2  # Atelier at most 1/5 of the peer's wall time
MEMORY_GOAL = 1.0  # and at most the peer's peak memory

sys.path.insert(0, str(HERE))


@dataclass
class Run:
    system: str
    wall_s: float
    cpu_s: float  # user + system CPU of the child: less sensitive than wall time to other load on the machine
    peak_rss_mb: float
    maxrss_mb: float
    tree_rss_mb: float
    load_before: float  # 1-minute load average when the run started
    phases: dict


# --------------------------------------------------------------------------------------------------- measuring
def _tree_rss_kb(pid: int) -> int:
    """RSS of a process and all its descendants, from /proc."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def measure(system: str, cmd: list[str]) -> Run:
    """Run ``cmd``; wall time from spawn to exit, peak RSS of the whole process (tree)."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT)
        peak_tree = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak_tree[0] = max(peak_tree[0], _tree_rss_kb(proc.pid))
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{system} failed with exit code {proc.returncode}:\n{stderr[-4000:]}")
    phases = json.loads(stdout.strip().splitlines()[-1])
    maxrss_mb = usage.ru_maxrss / 1024  # Linux reports kilobytes
    tree_mb = peak_tree[0] / 1024
    cpu = usage.ru_utime + usage.ru_stime
    return Run(system, wall, cpu, max(maxrss_mb, tree_mb), maxrss_mb, tree_mb, load_before, phases)


def median_run(runs: list[Run]) -> Run:
    """The run with the median wall time, carrying the median CPU time and peak memory of all runs."""
    ordered = sorted(runs, key=lambda r: r.wall_s)
    chosen = ordered[(len(ordered) - 1) // 2]
    chosen.cpu_s = statistics.median(r.cpu_s for r in runs)
    chosen.peak_rss_mb = statistics.median(r.peak_rss_mb for r in runs)
    return chosen


# --------------------------------------------------------------------------------------------------- setup
def ensure_data(workdir: Path, rows: int, seed: int) -> Path:
    from generate import write_csv

    path = workdir / f"data_{rows}_seed{seed}.csv"
    if not path.exists():
        t0 = time.perf_counter()
        print(f"generating {path} ...", flush=True)
        write_csv(path, rows, seed)
        print(f"  {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t0:.1f} s", flush=True)
    return path


def ensure_peer_venv() -> Path:
    """bench/.venv-peers with ydata-profiling (it pins older pandas/numpy, so never the main venv)."""
    python = PEER_VENV / "bin" / "python"
    marker = PEER_VENV / ".requirements.sha256"
    digest = hashlib.sha256(PEER_REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and marker.exists() and marker.read_text() == digest:
        return python
    if not python.exists():
        print(f"creating {PEER_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    print(f"installing {PEER_REQUIREMENTS.name} into {PEER_VENV} ...", flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(PEER_REQUIREMENTS)], check=True)
    marker.write_text(digest)
    return python


# --------------------------------------------------------------------------------------------------- report
def print_table(runs: list[Run], rows: int, csv_path: Path) -> dict:
    print()
    print(f"Dataset: {rows:,} rows x 20 columns, {csv_path.stat().st_size / 1e6:.0f} MB CSV ({csv_path.name})")
    print(f"{'system':<22}{'wall s':>9}{'CPU s':>9}{'peak RSS MB':>13}{'load s':>9}{'types s':>9}{'profile s':>11}")
    for r in runs:
        p = r.phases
        print(
            f"{r.system:<22}{r.wall_s:>9.2f}{r.cpu_s:>9.2f}{r.peak_rss_mb:>13.0f}{p.get('read_s', 0):>9.2f}"
            f"{p.get('types_s', 0):>9.2f}{p.get('profile_s', 0):>11.2f}"
        )
    summary: dict = {"rows": rows, "runs": [asdict(r) for r in runs]}
    if len(runs) == 2:
        ours, peer = runs
        time_ratio = ours.wall_s / peer.wall_s
        cpu_ratio = ours.cpu_s / peer.cpu_s
        mem_ratio = ours.peak_rss_mb / peer.peak_rss_mb
        time_ok, mem_ok = time_ratio <= TIME_GOAL, mem_ratio <= MEMORY_GOAL
        print(
            f"time ratio   (Atelier / ydata): {time_ratio:.3f}  ({1 / time_ratio:.1f}x faster)  "
            f"goal <= {TIME_GOAL:.2f}: {'MET' if time_ok else 'MISSED'}"
        )
        print(f"CPU ratio    (Atelier / ydata): {cpu_ratio:.3f}  (for reference: steadier on a busy machine)")
        print(
            f"memory ratio (Atelier / ydata): {mem_ratio:.3f}  goal <= {MEMORY_GOAL:.2f}: "
            f"{'MET' if mem_ok else 'MISSED'}"
        )
        summary.update(
            time_ratio=time_ratio,
            cpu_ratio=cpu_ratio,
            memory_ratio=mem_ratio,
            time_goal_met=time_ok,
            memory_goal_met=mem_ok,
        )
    loads = [r.load_before for r in runs]
    print(
        f"1-min load average at the start of the reported runs: {', '.join(f'{x:.1f}' for x in loads)} "
        f"on {os.cpu_count()} cores"
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=1, help="runs per system; the median is reported")
    parser.add_argument("--workdir", type=Path, default=BENCH / "out" / "wrangler")
    parser.add_argument("--skip-peer", action="store_true", help="measure Atelier only")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    csv_path = ensure_data(args.workdir, args.rows, args.seed)
    peer_python = None if args.skip_peer else ensure_peer_venv()
    jobs = [
        (
            "Atelier",
            [
                sys.executable,
                str(HERE / "atelier_job.py"),
                str(csv_path),
                "--target",
                "target",
                "--out",
                str(args.workdir / "atelier_report.json"),
            ],
        )
    ]
    if peer_python is not None:
        jobs.append(
            (
                "ydata-profiling 4.18",
                [
                    str(peer_python),
                    str(HERE / "ydata_job.py"),
                    str(csv_path),
                    "--out",
                    str(args.workdir / "ydata_report.json"),
                ],
            )
        )
    runs: dict[str, list[Run]] = {system: [] for system, _ in jobs}
    for i in range(args.repeat):  # interleaved, so both systems see the same conditions on a shared machine
        for system, cmd in jobs:
            print(f"running {system} ({i + 1}/{args.repeat}) ...", flush=True)
            run = measure(system, cmd)
            print(
                f"  {run.wall_s:.1f} s wall, {run.cpu_s:.1f} s CPU, peak {run.peak_rss_mb:.0f} MB "
                f"(load {run.load_before:.1f})",
                flush=True,
            )
            runs[system].append(run)
    results = [median_run(runs[system]) for system, _ in jobs]
    summary = print_table(results, args.rows, csv_path)
    (args.workdir / "results.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
