"""`{% value_view data %}`: JSON-like data (a job's result) as a person reads it, not as `{'a': 1}`: objects as
definition lists, lists of objects with the same keys as tables, other lists as comma-separated values or items;
`null`, `true` and `false` as JSON writes them, `*_bytes` as sizes. Everything is escaped; depth and length are
capped so a large result cannot make a page of megabytes."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()

MAX_DEPTH = 6
MAX_ITEMS = 100  # per object, list or table


def _scalar(value: Any, key: str = "") -> SafeString:
    if value is None:
        return SafeString('<span class="muted">null</span>')
    if isinstance(value, bool):
        return format_html("{}", "true" if value else "false")
    if isinstance(value, int | float) and key.endswith("_bytes"):
        return format_html('<span title="{} bytes">{}</span>', value, filesizeformat(value))
    if isinstance(value, float):
        return format_html("{}", f"{value:.6g}")
    return format_html("{}", value)


def _more(total: int) -> SafeString:
    if total <= MAX_ITEMS:
        return SafeString("")
    return format_html(' <span class="muted small">… and {} more</span>', total - MAX_ITEMS)


def _records(value: list[Any]) -> list[str] | None:
    """The shared keys when `value` is a non-empty list of objects with the same keys (a table), else None."""
    if not value or not all(isinstance(v, dict) for v in value):
        return None
    keys = list(value[0])
    return keys if keys and all(list(v) == keys for v in value) else None


def _render(value: Any, depth: int, key: str = "") -> SafeString:
    if depth > MAX_DEPTH and isinstance(value, dict | list):
        return format_html('<span class="muted">({} more levels)</span>', "…")
    if isinstance(value, dict):
        if not value:
            return format_html('<span class="muted">{}</span>', "(empty)")
        items = list(value.items())
        rows = format_html_join(
            "", "<dt>{}</dt><dd>{}</dd>", ((str(k), _render(v, depth + 1, str(k))) for k, v in items[:MAX_ITEMS])
        )
        return format_html('<dl class="kv value-view">{}</dl>{}', rows, _more(len(items)))
    if isinstance(value, list | tuple):
        value = list(value)
        if not value:
            return format_html('<span class="muted">{}</span>', "(none)")
        keys = _records(value)
        if keys is not None:
            head = format_html_join("", "<th>{}</th>", ((k,) for k in keys))
            body = format_html_join(
                "",
                "<tr>{}</tr>",
                (
                    (format_html_join("", "<td>{}</td>", ((_render(r[k], depth + 1, k),) for k in keys)),)
                    for r in value[:MAX_ITEMS]
                ),
            )
            return format_html(
                '<div class="value-table"><table><thead><tr>{}</tr></thead><tbody>{}</tbody></table></div>{}',
                head,
                body,
                _more(len(value)),
            )
        if all(not isinstance(v, dict | list) for v in value):
            joined = format_html_join(", ", "{}", ((_scalar(v, key),) for v in value[:MAX_ITEMS]))
            return format_html("{}{}", joined, _more(len(value)))
        items_html = format_html_join("", "<li>{}</li>", ((_render(v, depth + 1, key),) for v in value[:MAX_ITEMS]))
        return format_html('<ol class="value-list">{}</ol>{}', items_html, _more(len(value)))
    return _scalar(value, key)


@register.simple_tag
def value_view(value: Any) -> SafeString:
    return _render(value, 0)
