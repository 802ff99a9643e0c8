"""Static files from a live server, as `make run` serves them (issue 13, item 9): a chart page loads plotly.js under
a content-hashed name, gzip- or brotli-compressed as the client accepts, cached for a year as immutable; the bytes
decompress to the vendored file. Before, it went out as /static/vendor/plotly/plotly.min.js, 4.9 MB raw,
`max-age=60`."""

from __future__ import annotations

import gzip
import re
import urllib.request

import brotli
import pytest

from apps.jobs.models import Job
from tests.e2e.conftest import ROOT

pytestmark = [pytest.mark.xdist_group("e2e")]

PLOTLY = (ROOT / "static" / "vendor" / "plotly" / "plotly.min.js").read_bytes()
RESULT = {"assets": [{"type": "datasets", "count": 2, "bytes": 10}], "storage": [], "total_files": 0}


def _get(url: str, **headers: str) -> tuple[dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return {k.lower(): v for k, v in response.getheaders()}, response.read()


def test_a_chart_page_loads_plotly_hashed_compressed_and_cached_for_a_year(
    studio_server, client_for, project_a, ds_user
):
    job = Job.objects.create(
        kind="core.storage_report", project=project_a, created_by=ds_user, status="succeeded", result=RESULT
    )
    session = client_for(ds_user).cookies["sessionid"].value
    _, page = _get(f"{studio_server.url}/jobs/{job.pk}/", Cookie=f"sessionid={session}")
    scripts = re.findall(r'<script src="([^"]+)"', page.decode())
    [plotly] = [s for s in scripts if "plotly" in s]
    assert re.fullmatch(r"/static/vendor/plotly/plotly\.min\.[0-9a-f]{12}\.js", plotly), scripts
    assert all(re.search(r"\.[0-9a-f]{12}\.js$", s) for s in scripts), scripts  # our own scripts are hashed too

    decoders = {"br": brotli.decompress, "gzip": gzip.decompress}
    for encoding, decompress in decoders.items():
        headers, body = _get(f"{studio_server.url}{plotly}", **{"Accept-Encoding": encoding})
        assert headers.get("content-encoding") == encoding, headers
        assert headers["cache-control"] == "max-age=31536000, public, immutable", headers
        assert "accept-encoding" in headers.get("vary", "").lower(), headers
        assert len(body) < len(PLOTLY) / 3, f"{encoding}: {len(body)} bytes for a {len(PLOTLY)}-byte file"
        assert decompress(body) == PLOTLY
    headers, body = _get(f"{studio_server.url}{plotly}", **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in headers and body == PLOTLY
