"""The code the endpoint page shows (curl and Python), built from one request description so that every snippet
runs as pasted: the JSON body is written by json.dumps for the shell (quoted by shlex) and as a Python literal
(pprint of the decoded JSON, so `false`/`null` become `False`/`None`); the key comes from an environment variable,
never the page."""

from __future__ import annotations

import json
import pprint
import shlex
from dataclasses import dataclass
from typing import Any

KEY_ENV = "ATELIER_ENDPOINT_KEY"


@dataclass(frozen=True)
class SnippetRequest:
    """One HTTP request: `url` absolute, `body` any JSON value (None: no body), sent with the endpoint key."""

    method: str
    url: str
    body: Any = None
    key_env: str = KEY_ENV


def _json_value(body: Any) -> Any:
    """The body as the server will read it: JSON types only (a non-finite float is refused here, not at run time)."""
    return json.loads(json.dumps(body, allow_nan=False))


def python_literal(value: Any, indent: int = 0) -> str:
    """`value` (JSON types) as Python source, continuation lines indented by `indent` spaces."""
    text = pprint.pformat(_json_value(value), width=100 - indent, sort_dicts=False)
    return text.replace("\n", "\n" + " " * indent)


def curl(request: SnippetRequest) -> str:
    parts = [f"curl -sS --fail-with-body -X {request.method} {shlex.quote(request.url)}"]
    parts.append(f'-H "Authorization: Bearer ${request.key_env}"')
    if request.body is not None:
        parts.append("-H 'Content-Type: application/json'")
        parts.append(f"-d {shlex.quote(json.dumps(_json_value(request.body)))}")
    return " \\\n  ".join(parts)


def _python_call(request: SnippetRequest, variable: str = "response") -> list[str]:
    lines = [f"{variable} = requests.{request.method.lower()}(", f"    {request.url!r},", "    headers=HEADERS,"]
    if request.body is not None:
        lines.append(f"    json={python_literal(request.body, indent=4)},")
    return [*lines, "    timeout=60,", ")", f"{variable}.raise_for_status()"]


def _python_head(*modules: str) -> list[str]:
    return [
        *(f"import {m}" for m in sorted({"os", *modules})),
        "",
        "import requests",
        "",
        f'HEADERS = {{"Authorization": f"Bearer {{os.environ[\'{KEY_ENV}\']}}"}}',
        "",
    ]


def python_invoke(request: SnippetRequest) -> str:
    """A real-time or serverless invocation: prints the predictions."""
    return "\n".join([*_python_head(), *_python_call(request), 'print(response.json()["predictions"])']) + "\n"


def python_async(request: SnippetRequest, host: str) -> str:
    """An asynchronous invocation: submit, poll the status until it is final, then print the result's predictions."""
    return (
        "\n".join(
            [
                *_python_head("time"),
                *_python_call(request),
                'status = response.json()  # {"inference_id", "status", "location", ...}',
                'while status["status"] in ("queued", "running"):',
                "    time.sleep(1)",
                f'    status = requests.get({host!r} + status["location"], headers=HEADERS, timeout=60).json()',
                'if status["status"] != "succeeded":',
                "    raise SystemExit(f\"The request {status['status']}: {status.get('error', '')}\")",
                f'result = requests.get({host!r} + status["output_location"], headers=HEADERS, timeout=60)',
                "result.raise_for_status()",
                'print(result.json()["predictions"])',
            ]
        )
        + "\n"
    )
