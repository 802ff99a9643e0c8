"""Job instructions: Markdown written by a data scientist, shown to workers (some of them outside people) as HTML.

Two layers: markdown-it-py renders CommonMark with raw HTML off (a `<script>` in the text comes out as text), and nh3
(ammonia) cleans the result against an allow-list anyway, so that no later change of renderer options can let
markup through: tags of ordinary prose and tables only, links to http, https and mailto only (with
rel="noopener noreferrer"), images not at all (an image URL would tell a third party who reads the instructions)."""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt

MAX_INSTRUCTIONS_CHARS = 50_000

ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "del", "s",
}  # fmt: skip
# No style attributes: the pages' CSP refuses inline styles (table alignment is lost, nothing else).
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}

_md = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    .enable("table")
    .enable("strikethrough")
)


@functools.lru_cache(maxsize=256)  # every next-task answer carries a job's instructions: render each text once
def render_instructions(text: str) -> str:
    """`text` (Markdown) as safe HTML: raw HTML in it is shown as text, links keep only http/https/mailto targets."""
    if not text:
        return ""
    html = _md.render(text[:MAX_INSTRUCTIONS_CHARS])
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
