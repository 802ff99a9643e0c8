"""The serving path in a real ASGI server (uvicorn subprocess on the test database): zero failed requests while an
endpoint moves to a new version under concurrent load, revoked keys stop within the refresh interval, serverless
unload and reload, metrics flushed by the server process."""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any
from urllib.parse import urlparse

import orjson
import pytest

from apps.endpoints import services
from apps.endpoints.models import EndpointMetric
from tests.conftest import wait_for
from tests.factories import ROWS, binary_model, register

pytestmark = pytest.mark.timeout(180)

BODY = orjson.dumps({"dataframe_records": ROWS})


class Client:
    """One keep-alive HTTP connection (as an application would hold)."""

    def __init__(self, base: str) -> None:
        parsed = urlparse(base)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)

    def post(self, path: str, key: str, body: bytes = BODY) -> tuple[int, dict[str, str], Any]:
        self.conn.request(
            "POST", path, body=body, headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        )
        response = self.conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, orjson.loads(data)

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def versions(transactional_db, project_a, mlops_user):  # type: ignore[no-untyped-def]
    """Two approved versions in the shared test media folder (the server process reads it too)."""
    return (
        register(project_a, mlops_user, binary_model(), approve_by=mlops_user),
        register(project_a, mlops_user, binary_model(flip=True), approve_by=mlops_user),
    )


def test_zero_failed_requests_while_the_version_is_updated(studio_server, versions, project_a, mlops_user) -> None:
    v1, v2 = versions
    endpoint, key = services.endpoint_create(
        project=project_a, user=mlops_user, name="live", variants=[{"model_version": v1}]
    )
    path = "/endpoints/live/invocations"
    probe = Client(studio_server.url)
    wait_for(lambda: probe.post(path, key)[0] == 200, timeout=30, what="the endpoint to answer")
    results: list[tuple[float, int, str, Any]] = []
    errors: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        client = Client(studio_server.url)
        try:
            while not stop.is_set():
                status, headers, data = client.post(path, key)
                results.append(
                    (time.monotonic(), status, headers.get("x-atelier-model-version", ""), data.get("predictions"))
                )
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            client.close()

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    switched_at = time.monotonic()
    services.endpoint_update(endpoint=endpoint, user=mlops_user, variants=[{"model_version": v2}])
    wait_for(
        lambda: any(r[2] == str(v2.pk) and r[0] > switched_at for r in list(results)),
        timeout=20,
        what="requests answered by the new version",
    )
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors[:3]
    statuses = [r[1] for r in results]
    assert len(statuses) > 100 and set(statuses) == {200}, f"{len(statuses)} requests, statuses {set(statuses)}"
    old = [r for r in results if r[2] == str(v1.pk)]
    new = [r for r in results if r[2] == str(v2.pk)]
    assert old and new
    assert {tuple(r[3]) for r in old} == {("yes", "no", "no")} and {tuple(r[3]) for r in new} == {("no", "yes", "yes")}
    last_old = max(r[0] for r in old)
    assert all(r[2] == str(v2.pk) for r in results if r[0] > last_old + 0.5), "after the switch only v2 answers"
    probe.close()


def test_revoked_key_and_serverless_unload_through_the_server(studio_server, versions, project_a, mlops_user) -> None:
    v1, _ = versions
    endpoint, key = services.endpoint_create(
        project=project_a,
        user=mlops_user,
        name="sls",
        endpoint_type="serverless",
        variants=[{"model_version": v1}],
        idle_timeout_s=1,
    )
    client = Client(studio_server.url)
    path = "/endpoints/sls/invocations"
    wait_for(lambda: client.post(path, key)[0] == 200, timeout=30, what="the endpoint to answer")
    status, headers, data = client.post(path, key)
    assert status == 200 and "x-atelier-cold-start" not in headers, "loaded by the first request, kept while busy"
    time.sleep(2.5)  # idle past the timeout: the server unloads the model
    status, headers, again = client.post(path, key)
    assert status == 200 and headers.get("x-atelier-cold-start") == "true", "reloaded on demand"
    assert again == data
    row, second = services.endpoint_key_create(endpoint=endpoint, user=mlops_user, name="app")
    wait_for(lambda: client.post(path, second)[0] == 200, timeout=5, what="the new key to work")
    services.endpoint_key_revoke(key=row, user=mlops_user)
    revoked_at = time.monotonic()
    wait_for(lambda: client.post(path, second)[0] == 401, timeout=5, what="the revoked key to stop working")
    assert time.monotonic() - revoked_at < 2.0  # SERVING_CONFIG_REFRESH_S is 0.3 s in tests
    assert client.post(path, key)[0] == 200
    wait_for(
        lambda: EndpointMetric.objects.filter(endpoint=endpoint).exists(),
        timeout=10,
        what="the server to flush its metrics",
    )
    wait_for(
        lambda: sum(EndpointMetric.objects.filter(endpoint=endpoint).values_list("client_errors", flat=True)) >= 1,
        timeout=10,
        what="the 401s to be counted",
    )
    client.close()


def test_serving_only_processes_read_the_config_from_the_database(
    transactional_db, versions, project_a, mlops_user, tmp_path
) -> None:
    """Scale-out (docs/serving.md): `uvicorn studio.serving_asgi:application --workers 2` serves /endpoints/ and
    nothing else, each worker reading endpoints and keys from the database."""
    import os
    import signal
    import subprocess
    import sys

    from django.db import connection

    from tests.e2e.conftest import ROOT, _free_port

    _, key = services.endpoint_create(
        project=project_a, user=mlops_user, name="scaled", variants=[{"model_version": versions[0]}]
    )
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings.test",
        "ATELIER_TEST_DATABASE_NAME": str(connection.settings_dict["NAME"]),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "serving.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "studio.serving_asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
                "--lifespan",
                "off",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            try:
                return Client(base).post("/endpoints/scaled/invocations", key)[0] == 200
            except OSError:
                return False

        wait_for(answers, timeout=60, what=f"the serving processes to answer:\n{log.read_text()[-2000:]}")
        statuses = [Client(base).post("/endpoints/scaled/invocations", key)[0] for _ in range(20)]
        assert statuses == [200] * 20
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 404, "the studio's pages are not served by serving processes"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
