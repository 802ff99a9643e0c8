"""A value shown once on the page a POST redirects to (Post/Redirect/Get) — a new API token, endpoint key or
invitation link. It waits in the user's server-side session under a slot name and is removed by the first page that
shows it, so a refresh neither re-posts the form nor shows the secret again; it never travels in a URL."""

from __future__ import annotations

from typing import Any

SESSION_PREFIX = "show-once:"


def show_once(request: Any, slot: str, value: Any) -> None:
    """Keep `value` for the next page that asks for `slot` (a JSON-serialisable value)."""
    request.session[SESSION_PREFIX + slot] = value


def take_once(request: Any, slot: str, default: Any = "") -> Any:
    """The value kept for `slot`, removed from the session; `default` when there is none."""
    return request.session.pop(SESSION_PREFIX + slot, default)
