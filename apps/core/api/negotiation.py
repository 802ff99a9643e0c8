"""Content negotiation for file downloads."""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation


class AttachmentNegotiation(DefaultContentNegotiation):
    """The view's first renderer, whatever `?format=` says: downloads use `?format=csv|parquet` (datasets) for the file
    format and model versions filter on `?format=skops|onnx|...`, not for DRF's renderer override (which answers
    404 to a format it has no renderer for)."""

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type
