"""Ground Truth's work queue under load: next-task claim and answer latency through the HTTP API, on PostgreSQL.

A throw-away PostgreSQL database gets a labeling job of 100,000 text items (3 workers per item) and 50 labelers,
each with an API token. A real server (uvicorn over studio.asgi, `--workers 2`, persistent database connections)
answers; 50 labeler threads (one keep-alive HTTP connection each) loop: claim the next task, think, answer it, think.
Two phases:

- **paced**: each labeler thinks `--think` seconds (uniform, default 2-8 s) before answering and before the next
  claim, as a person does: 50 labelers then send about 10 requests per second;
- **saturation**: no think time, every labeler back to back: the queue's throughput and correctness under stress
  (latency there is queueing for the two cores, not the claim itself).

For each phase it prints p50 / p95 / p99 of the claim (`POST /api/labeling-jobs/{id}/next-task/`) and of the answer
(`POST /api/labeling-tasks/{id}/answers/`), the requests per second, the non-2xx answers, and then, from the database,
the over-assignment count: items with more active claims + answers than workers per item, items whose `seats_taken`
disagrees with their tasks, and any (item, worker) answered twice. Goal: paced p95 under 20 ms, zero over-assignment.

    .venv/bin/python bench/labeling/claim_latency.py                      # 100,000 items, 50 labelers
    .venv/bin/python bench/labeling/claim_latency.py --duration 20 --saturation 10 --items 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/atelier_bench_labeling  (the default; dropped and re-created)

Peer: Label Studio (its next-task queue, `SELECT ... FOR UPDATE SKIP LOCKED`) is measured by label_studio_peer.py
beside this file, with the same job, labelers and think times.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
PY = ROOT / ".venv" / "bin" / "python"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/atelier_bench_labeling"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(database_url: str, var_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "ATELIER_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "studio.settings.base",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        # A pool of connections per server process, as the README's production setup has for web processes (under
        # ASGI each request runs in a thread of its own, so CONN_MAX_AGE cannot keep connections). --no-pool: a new
        # connection per request (the default of settings).
        "DB_CONN_MAX_AGE": "0",
        "DB_POOL_MAX_SIZE": os.environ.get("DB_POOL_MAX_SIZE", "8"),
    }


def recreate_database(database_url: str) -> None:
    import psycopg

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup(env: dict[str, str], items: int, labelers: int) -> dict[str, Any]:
    """Migrate, then build the job in a child process (Django set up there, not in the load generator)."""
    subprocess.run([str(PY), "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    code = f"""
import json, django
django.setup()
from django.db import connection
from apps.accounts.models import WorkTeam
from apps.accounts.services import api_token_create, project_create, user_create
from apps.labeling.models import LabelingJob
owner = user_create(username="bench-owner", personas=["data_scientist"], validate=False)
project = project_create(name="Bench", created_by=owner)
workers = [user_create(username=f"labeler{{i:02d}}", personas=["labeler"], projects=[project], validate=False)
           for i in range({labelers})]
team = WorkTeam.objects.create(project=project, name="Bench team")
team.members.add(*workers)
job = LabelingJob.objects.create(
    project=project, created_by=owner, name="Bench sentiment", task_type="text_classification", status="active",
    source_kind="dataset", labels=["pos", "neg", "neutral"], team=team, workers_per_item=3,
    attribute_name="sentiment", item_count={items})
with connection.cursor() as c:  # the items in one statement (bulk_create of 100,000 rows takes minutes here)
    c.execute('''
        INSERT INTO labeling_labelingitem (job_id, position, data, source_ref, is_gold, seats_taken, is_open,
            answer_count, consolidation_info, label_source, review_status)
        SELECT %s, g, jsonb_build_object('text', 'review number ' || g || ': the product was fine'), 'row ' || g,
            false, 0, true, 0, '{{}}'::jsonb, 'none', 'none'
        FROM generate_series(0, %s - 1) AS g''', [job.pk, {items}])
with connection.cursor() as c:
    c.execute("ANALYZE labeling_labelingitem"); c.execute("ANALYZE labeling_labelingtask")
tokens = [api_token_create(user=w, name="bench")[1] for w in workers]
print(json.dumps({{"job": job.pk, "tokens": tokens}}))
"""
    out = subprocess.run([str(PY), "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_server(env: dict[str, str], port: int, workers: int) -> subprocess.Popen:
    cmd = [
        str(PY),
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
        "--timeout-keep-alive",
        "75",  # as nginx's keepalive_timeout: labelers think for seconds between requests
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    end = time.monotonic() + 120
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status < 500:
                    return proc
        except OSError:
            time.sleep(0.3)
    stop(proc)
    raise RuntimeError("the server did not start")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


class Labeler(threading.Thread):
    """One labeler: claim, think, answer, think, until `until`. The claim and answer requests are Atelier's by default;
    bench/labeling/label_studio_peer.py passes Label Studio's."""

    def __init__(
        self,
        port: int,
        job: int,
        token: str,
        think: tuple[float, float],
        until: float,
        seed: int,
        claim: tuple[str, str] | None = None,
        answer: Any = None,
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.job, self.think, self.until = port, job, think, until
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.rng = random.Random(seed)
        self.claim = claim or ("POST", f"/api/labeling-jobs/{job}/next-task/")
        self.answer = answer or self.atelier_answer
        self.claims: list[float] = []
        self.answers: list[float] = []
        self.errors: list[str] = []
        self.empty = 0

    def atelier_answer(self, task: dict[str, Any], label: str) -> tuple[str, dict[str, Any], int]:
        return f"/api/labeling-tasks/{task['id']}/answers/", {"label": label, "time_spent_ms": 1000}, 201

    def send(self, conn: http.client.HTTPConnection, method: str, path: str, body: bytes) -> tuple[int, bytes, float]:
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body or None, headers=self.headers)
                response = conn.getresponse()
                data = response.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                conn.close()  # the server closed an idle keep-alive connection: reconnect, as a browser does
                if attempt == 2:
                    raise
                continue
            return response.status, data, (time.perf_counter() - started) * 1000
        raise RuntimeError("unreachable")

    def pause(self) -> None:
        lo, hi = self.think
        if hi > 0:
            time.sleep(self.rng.uniform(lo, hi))

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        if self.think[1] > 0:  # people do not all arrive in the same millisecond
            time.sleep(self.rng.uniform(0, self.think[1]))
        try:
            while time.monotonic() < self.until:
                status, data, ms = self.send(conn, *self.claim, b"")
                if status == 204 or (status == 404 and b"no more" in data.lower()):
                    self.empty += 1
                    continue
                if status != 200:
                    self.errors.append(f"claim {status}: {data[:200]!r}")
                    continue
                self.claims.append(ms)
                task = json.loads(data)
                self.pause()
                path, body, expected = self.answer(task, self.rng.choice(["pos", "neg", "neutral"]))
                status, data, ms = self.send(conn, "POST", path, json.dumps(body).encode())
                if status != expected:
                    self.errors.append(f"answer {status}: {data[:200]!r}")
                    continue
                self.answers.append(ms)
                self.pause()
        except Exception as exc:  # a failed connection ends this labeler; counted as an error
            self.errors.append(repr(exc))
        finally:
            conn.close()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def run_phase(
    port: int, job: int, tokens: list[str], think: tuple[float, float], seconds: float, **requests: Any
) -> dict[str, Any]:
    until = time.monotonic() + seconds
    labelers = [Labeler(port, job, token, think, until, seed=i, **requests) for i, token in enumerate(tokens)]
    started = time.monotonic()
    for t in labelers:
        t.start()
    for t in labelers:
        t.join(seconds + 120)
    elapsed = time.monotonic() - started
    claims = [ms for t in labelers for ms in t.claims]
    answers = [ms for t in labelers for ms in t.answers]
    errors = [e for t in labelers for e in t.errors]
    return {
        "claims": claims,
        "answers": answers,
        "errors": errors,
        "empty": sum(t.empty for t in labelers),
        "rps": (len(claims) + len(answers)) / elapsed,
    }


def integrity(database_url: str, job: int) -> dict[str, int]:
    import psycopg

    queries = {
        # more active claims + answers than workers per item
        "over_assigned": """
            SELECT count(*) FROM (
              SELECT i.id FROM labeling_labelingitem i JOIN labeling_labelingtask t ON t.item_id = i.id
              WHERE i.job_id = %(job)s AND t.status IN ('active', 'answered')
              GROUP BY i.id HAVING count(*) > 3) x""",
        "over_answered": """
            SELECT count(*) FROM labeling_labelingitem WHERE job_id = %(job)s AND answer_count > 3""",
        "seats_disagree": """
            SELECT count(*) FROM labeling_labelingitem i WHERE i.job_id = %(job)s AND i.seats_taken <> (
              SELECT count(*) FROM labeling_labelingtask t
              WHERE t.item_id = i.id AND t.status IN ('active', 'answered'))
              AND (i.seats_taken > 0 OR EXISTS (SELECT 1 FROM labeling_labelingtask t WHERE t.item_id = i.id))""",
        "answered_twice": """
            SELECT count(*) FROM (SELECT item_id, worker_id FROM labeling_labelingtask WHERE job_id = %(job)s
              AND status = 'answered' GROUP BY item_id, worker_id HAVING count(*) > 1) x""",
        "answers": "SELECT count(*) FROM labeling_labelingtask WHERE job_id = %(job)s AND status = 'answered'",
        "items_complete": "SELECT count(*) FROM labeling_labelingitem WHERE job_id = %(job)s AND answer_count = 3",
        "consolidated": """
            SELECT count(*) FROM labeling_labelingitem WHERE job_id = %(job)s AND consolidated IS NOT NULL""",
    }
    with psycopg.connect(database_url) as conn:
        return {name: int(conn.execute(sql, {"job": job}).fetchone()[0]) for name, sql in queries.items()}


def show(name: str, result: dict[str, Any]) -> None:
    def cells(values: list[float]) -> str:
        return (
            f"n={len(values):6d}  p50 {pct(values, 50):7.2f}  p95 {pct(values, 95):7.2f}  p99 {pct(values, 99):7.2f}"
            f"  mean {statistics.fmean(values) if values else float('nan'):7.2f} ms"
        )

    print(f"{name:<11} claim   {cells(result['claims'])}")
    print(f"{'':<11} answer  {cells(result['answers'])}")
    print(
        f"{'':<11} {result['rps']:.0f} requests/s, {len(result['errors'])} errors, {result['empty']} empty claims (204)"
    )
    for error in result["errors"][:5]:
        print(f"{'':<11}   {error}")


def label_studio_line() -> str:
    return (
        "peer: Label Studio is measured by bench/labeling/label_studio_peer.py (its own virtualenv: label-studio "
        "1.23.2 brings its own Django and ~150 packages; the same job, load and PostgreSQL)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--labelers", type=int, default=50)
    parser.add_argument("--duration", type=float, default=90.0, help="seconds of the paced phase")
    parser.add_argument("--think", default="2,8", help="think time range in seconds (paced phase)")
    parser.add_argument("--saturation", type=float, default=15.0, help="seconds of the saturation phase (0: none)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn processes")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--reuse", action="store_true", help="keep the database and job of the previous run")
    parser.add_argument("--no-pool", action="store_true", help="a database connection per request (no pool)")
    parser.add_argument(
        "--peer-venv", default="", help="Label Studio's virtualenv: run the peer after us and print both side by side"
    )
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        sys.exit("This bench runs on PostgreSQL (--database-url postgres://...).")
    lo, hi = (float(x) for x in args.think.split(","))
    if args.no_pool:
        os.environ["DB_POOL_MAX_SIZE"] = "0"

    saved = ROOT / "bench" / "out" / "labeling" / "setup.json"
    with tempfile.TemporaryDirectory(prefix="bench-labeling-") as tmp:
        env = server_env(args.database_url, Path(tmp))
        started = time.monotonic()
        if args.reuse and saved.exists():
            made = json.loads(saved.read_text())
        else:
            recreate_database(args.database_url)
            made = setup(env, args.items, args.labelers)
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(json.dumps(made))
        made["tokens"] = made["tokens"][: args.labelers]
        print(
            f"setup: {args.items:,} items, {len(made['tokens'])} labelers, 3 workers per item "
            f"({time.monotonic() - started:.0f} s{', reused' if args.reuse else ''})",
            flush=True,
        )
        port = free_port()
        server = start_server(env, port, args.workers)
        try:
            print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
            run_phase(port, made["job"], made["tokens"], (0.0, 0.0), 2.0)  # warm-up: connections, imports
            print(
                f"server: uvicorn studio.asgi, {args.workers} workers, PostgreSQL "
                f"({'a connection per request' if args.no_pool else 'a pool of 8 connections per process'}); "
                f"{args.labelers} labelers over HTTP (keep-alive); {os.cpu_count()} cores shared with the load",
                flush=True,
            )
            paced = run_phase(port, made["job"], made["tokens"], (lo, hi), args.duration)
            show(f"paced {lo:g}-{hi:g}s", paced)
            print(f"{'':<11} load average after the phase: {os.getloadavg()[0]:.1f} (other work on the machine too)")
            if args.saturation > 0:
                show("saturation", run_phase(port, made["job"], made["tokens"], (0.0, 0.0), args.saturation))
                print(f"{'':<11} load average after the phase: {os.getloadavg()[0]:.1f}")
        finally:
            stop(server)
        checks = integrity(args.database_url, made["job"])
        print(
            f"integrity: over-assigned items {checks['over_assigned']}, "
            f"items over 3 answers {checks['over_answered']}, "
            f"seats disagreeing with tasks {checks['seats_disagree']}, (item, worker) answered twice "
            f"{checks['answered_twice']}; {checks['answers']:,} answers, {checks['items_complete']:,} items with all 3 "
            f"({checks['consolidated']:,} consolidated)"
        )
        goal = pct(paced["claims"], 95) < 20 and pct(paced["answers"], 95) < 20
        clean = checks["over_assigned"] == checks["over_answered"] == checks["answered_twice"] == 0
        verdict = "met" if goal and clean else "NOT met"
        print(f"goal (paced p95 < 20 ms for claim and answer, zero over-assignment): {verdict}")
    if not args.peer_venv:
        print(label_studio_line())
        return
    # The peer in the same run, on the same job size, load and PostgreSQL server; then both side by side.
    peer = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("label_studio_peer.py")),
            "--venv",
            args.peer_venv,
            "--items",
            str(args.items),
            "--labelers",
            str(args.labelers),
            "--duration",
            str(args.duration),
            "--saturation",
            "0",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    print(peer.stdout, end="")
    found = re.search(r"LS paced p95: claim ([0-9.]+) ms, answer ([0-9.]+) ms", peer.stdout)
    if peer.returncode or not found:
        print(f"peer run failed (exit {peer.returncode}): {peer.stderr[-2000:]}")
        return
    ls_claim, ls_answer = float(found.group(1)), float(found.group(2))
    ours_claim, ours_answer = pct(paced["claims"], 95), pct(paced["answers"], 95)
    print(f"{'paced p95 (ms)':<16} {'Atelier':>10} {'Label Studio':>13} {'ratio':>8}")
    for what, ours, theirs in (("claim", ours_claim, ls_claim), ("answer", ours_answer, ls_answer)):
        print(f"{what:<16} {ours:>10.2f} {theirs:>13.2f} {theirs / ours:>7.1f}x")


if __name__ == "__main__":
    main()
