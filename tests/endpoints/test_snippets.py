"""Every snippet the product shows runs as pasted: the endpoint page's curl and Python code (real-time and
asynchronous) is taken from the rendered page, pointed at a live server (uvicorn on the test database) by the page's
own host, given the key through the environment variable it names, and run — curl in a shell, Python with the
project's interpreter. The example rows hold a missing value (JSON null), the case that broke the Python snippet."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlparse

import pandas as pd
import pytest
from django.urls import reverse

from apps.endpoints import services
from apps.endpoints.snippets import KEY_ENV
from tests.conftest import wait_for
from tests.factories import DatasetVersionFactory, binary_model, register

pytestmark = pytest.mark.timeout(240)


def _example_version(project: Any, user: Any) -> Any:
    """Training rows whose first one misses its colour: the page's example then carries a null."""
    frame = pd.DataFrame({"x1": [0.5, -1.0], "x2": [1.0, 0.0], "colour": [None, "red"], "churn": ["yes", "no"]})
    return DatasetVersionFactory(project=project, created_by=user, frame=frame, name="churn rows")


def _served(server_url: str, name: str) -> None:
    """Wait until the live server's serving snapshot (re-read every SERVING_CONFIG_REFRESH_S) knows the endpoint."""

    def pinged() -> bool:
        try:
            with urllib.request.urlopen(f"{server_url}/endpoints/{name}/ping", timeout=5) as answer:
                return answer.status == 200
        except urllib.error.HTTPError:
            return False

    wait_for(pinged, timeout=30, what=f"the live server to serve {name!r}")


def _page_snippets(client: Any, endpoint: Any, server_url: str) -> dict[str, str]:
    host = urlparse(server_url).netloc
    page = client.get(reverse("endpoints:detail", args=[endpoint.pk]), HTTP_HOST=host).content.decode()
    found = {
        name: html.unescape(m.group(1))
        for name in ("curl", "python")
        if (m := re.search(rf'<pre id="snippet-{name}">(.*?)</pre>', page, re.S))
    }
    assert set(found) == {"curl", "python"}, "the page shows both snippets"
    return found


def _run(args: list[str], key: str) -> str:
    done = subprocess.run(args, env={**os.environ, KEY_ENV: key}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def example_version(transactional_db, project_a, mlops_user):  # type: ignore[no-untyped-def]
    """An approved version trained on `_example_version`'s data (in the shared media folder the server reads)."""
    data = _example_version(project_a, mlops_user)
    return register(project_a, mlops_user, binary_model(), approve_by=mlops_user, dataset_version=data)


def test_realtime_snippets_run_against_the_live_endpoint(
    studio_server, example_version, project_a, mlops_user, client_for
) -> None:
    endpoint, key = services.endpoint_create(
        project=project_a, user=mlops_user, name="snippet-live", variants=[{"model_version": example_version}]
    )
    _served(studio_server.url, endpoint.name)
    shown = _page_snippets(client_for(mlops_user), endpoint, studio_server.url)
    assert "null" not in shown["python"] and "None" in shown["python"]  # a Python literal, not pasted JSON
    out = _run(["bash", "-c", shown["curl"]], key)
    assert re.fullmatch(r'\{"predictions":\["(yes|no)","(yes|no)"\]\}\s*', out), out
    out = _run([sys.executable, "-c", shown["python"]], key)
    assert re.fullmatch(r"\['(yes|no)', '(yes|no)'\]\s*", out), out


def test_async_snippets_run_against_the_live_endpoint(
    studio_server, start_worker, example_version, project_a, mlops_user, client_for
) -> None:
    start_worker()
    endpoint, key = services.endpoint_create(
        project=project_a,
        user=mlops_user,
        name="snippet-async",
        endpoint_type="async",
        variants=[{"model_version": example_version}],
    )
    _served(studio_server.url, endpoint.name)
    shown = _page_snippets(client_for(mlops_user), endpoint, studio_server.url)
    out = _run(["bash", "-c", shown["curl"]], key)
    assert '"status":"queued"' in out.replace(" ", "") and "/async-invocations/" in out, out
    out = _run([sys.executable, "-c", shown["python"]], key)  # submits, polls until done, prints the result
    assert re.fullmatch(r"\['(yes|no)', '(yes|no)'\]\s*", out), out
