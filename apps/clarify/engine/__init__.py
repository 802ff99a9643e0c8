"""Clarify's computations, with no Django imports (tests/core/test_layering.py): bias metrics (bias.py),
explanations (explain.py) and mitigations (mitigate.py). They take pandas/numpy in and give plain JSON out."""
