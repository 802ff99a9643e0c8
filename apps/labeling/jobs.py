"""Job kinds of Ground Truth. Thin: each calls one service that re-reads its inputs."""

from __future__ import annotations
