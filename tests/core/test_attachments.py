"""apps/core/attachments.py: every download is an attachment with its name encoded, never sniffed, never cached."""

from __future__ import annotations

import io

from django.http import HttpResponse

from apps.core.attachments import attachment, file_attachment


def test_attachment_names_the_file_and_forbids_sniffing_and_caching() -> None:
    response = attachment(HttpResponse(b"<script>", content_type="text/plain"), 'résumé "v2".csv')
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20%22v2%22.csv"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"


def test_file_attachment_streams_the_file_under_the_given_name_and_type() -> None:
    response = file_attachment(io.BytesIO(b"PK\x03\x04zip"), "model-mlflow.zip", "application/zip")
    assert response["Content-Disposition"] == 'attachment; filename="model-mlflow.zip"'
    assert response["Content-Type"] == "application/zip"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == b"PK\x03\x04zip"
