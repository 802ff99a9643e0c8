"""Moved to tests/factories.py; this re-export only keeps branches that were in flight when it moved working.
New code imports from tests.factories; delete this file once nothing imports it."""

from tests.factories import (  # noqa: F401
    FEATURES,
    ROWS,
    SIGNATURE_BINARY,
    binary_model,
    pipeline,
    register,
    regression_model,
    training_frame,
)

_pipeline = pipeline
