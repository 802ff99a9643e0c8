"""The peer line for bench/labeling/claim_latency.py: Label Studio's next-task queue under the same load.

The same job (100,000 text items, 3 annotations per item via `maximum_annotations`, sequential sampling), the same 50
labeler threads and think times, the same PostgreSQL, the same server shape (uvicorn, 2 workers; Label Studio has no
ASGI entry, so its WSGI application is served through uvicorn's WSGI interface). Claim = `GET
/api/projects/{id}/next` (Label Studio's `SELECT ... FOR UPDATE SKIP LOCKED` plus its task lock); answer = `POST
/api/tasks/{id}/annotations/`. Over-assignment read from its tables afterwards (tasks with more than 3 annotations,
(task, user) annotated twice).

Label Studio lives in its own virtualenv (its own Django and ~150 packages):

    python3.11 -m venv bench/.venv-labelstudio
    bench/.venv-labelstudio/bin/pip install label-studio==1.23.2 uvicorn
    .venv/bin/python bench/labeling/label_studio_peer.py [--venv bench/.venv-labelstudio] [--items 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from claim_latency import free_port, pct, recreate_database, run_phase, show, stop  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/atelier_bench_labelstudio"
CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="pos"/><Choice value="neg"/><Choice value="neutral"/></Choices></View>'
)

SETUP = """
import json, sys, django
django.setup()
from django.db import connection
from organizations.functions import create_organization
from projects.models import Project
from rest_framework.authtoken.models import Token
from tasks.models import Task
from users.models import User
items, labelers, config = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
admin = User.objects.create_superuser(email="admin@bench.test", password="bench-password-1234")
org = create_organization(title="Bench", created_by=admin, legacy_api_tokens_enabled=True)
admin.active_organization = org
admin.save()
project = Project.objects.create(title="Bench sentiment", organization=org, created_by=admin, label_config=config,
                                 maximum_annotations=3, sampling="Sequential sampling", show_overlap_first=False)
tokens = []
for i in range(labelers):
    user = User.objects.create_user(email=f"labeler{i:02d}@bench.test", password="bench-password-1234")
    org.add_user(user)
    user.active_organization = org
    user.save()
    tokens.append(Token.objects.get_or_create(user=user)[0].key)
batch = []
for i in range(items):
    batch.append(Task(project=project, data={"text": f"review number {i}: the product was fine"}, overlap=3))
    if len(batch) == 5000:
        Task.objects.bulk_create(batch)
        batch = []
Task.objects.bulk_create(batch)
with connection.cursor() as c:
    c.execute("ANALYZE task")
print(json.dumps({"project": project.pk, "tokens": tokens}))
"""


def ls_env(venv: Path, database_url: str, data_dir: Path) -> dict[str, str]:
    url = urlparse(database_url)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))},
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "label_studio.core.settings.label_studio",
        "DJANGO_DB": "default",
        "POSTGRE_NAME": url.path.lstrip("/"),
        "POSTGRE_USER": url.username or "postgres",
        "POSTGRE_PASSWORD": url.password or "",
        "POSTGRE_HOST": url.hostname or "127.0.0.1",
        "POSTGRE_PORT": str(url.port or 5432),
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", default=str(HERE.parent / ".venv-labelstudio"))
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--labelers", type=int, default=50)
    parser.add_argument("--duration", type=float, default=90.0)
    parser.add_argument("--think", default="2,8")
    parser.add_argument("--saturation", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=DEFAULT_DB)
    args = parser.parse_args()
    venv = Path(args.venv)
    py = venv / "bin" / "python"
    if not py.exists():
        sys.exit(f"peer: Label Studio not measured: no virtualenv at {venv} (see this file's docstring).")
    lo, hi = (float(x) for x in args.think.split(","))
    recreate_database(args.database_url)
    with tempfile.TemporaryDirectory(prefix="bench-labelstudio-") as tmp:
        env = ls_env(venv, args.database_url, Path(tmp))
        started = time.monotonic()
        subprocess.run([str(py), "-m", "label_studio.manage", "migrate", "-v", "0"], env=env, check=True, cwd=tmp)
        out = subprocess.run(
            [str(py), "-c", SETUP, str(args.items), str(args.labelers), CONFIG],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            cwd=tmp,
        )
        made = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"setup: Label Studio, {args.items:,} tasks, {args.labelers} labelers ({time.monotonic() - started:.0f} s)"
        )
        port = free_port()
        cmd = [str(py), "-m", "uvicorn", "label_studio.core.wsgi:application", "--interface", "wsgi"]
        cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers), "--no-access-log"]
        cmd += ["--log-level", "warning", "--timeout-keep-alive", "75"]
        server = subprocess.Popen(cmd, env=env, cwd=tmp, start_new_session=True)
        try:
            end = time.monotonic() + 120
            while time.monotonic() < end:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                        if r.status < 500:
                            break
                except OSError:
                    time.sleep(0.5)
            project = made["project"]

            def answer(task: dict[str, Any], label: str) -> tuple[str, dict[str, Any], int]:
                result = [
                    {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [label]}}
                ]
                return (
                    f"/api/tasks/{task['id']}/annotations/?project={project}",
                    {"result": result, "lead_time": 1},
                    201,
                )

            requests: dict[str, Any] = {"claim": ("GET", f"/api/projects/{project}/next"), "answer": answer}
            print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
            run_phase(port, project, made["tokens"], (0.0, 0.0), 2.0, **requests)
            paced = run_phase(port, project, made["tokens"], (lo, hi), args.duration, **requests)
            show(f"LS paced {lo:g}-{hi:g}s", paced)
            print(f"{'':<11} load average after the phase: {os.getloadavg()[0]:.1f}")
            if args.saturation > 0:
                show("LS saturat.", run_phase(port, project, made["tokens"], (0.0, 0.0), args.saturation, **requests))
                print(f"{'':<11} load average after the phase: {os.getloadavg()[0]:.1f}")
        finally:
            stop(server)
    import psycopg

    with psycopg.connect(args.database_url) as conn:
        over = conn.execute(
            "SELECT count(*) FROM (SELECT task_id FROM task_completion GROUP BY task_id HAVING count(*) > 3) x"
        ).fetchone()[0]
        twice = conn.execute(
            "SELECT count(*) FROM (SELECT task_id, completed_by_id FROM task_completion"
            " GROUP BY task_id, completed_by_id HAVING count(*) > 1) x"
        ).fetchone()[0]
        total = conn.execute("SELECT count(*) FROM task_completion").fetchone()[0]
    print(f"LS integrity: tasks over 3 annotations {over}, (task, user) annotated twice {twice}; {total:,} annotations")
    print(f"LS paced p95: claim {pct(paced['claims'], 95):.2f} ms, answer {pct(paced['answers'], 95):.2f} ms")


if __name__ == "__main__":
    main()
