"""Writes of Ground Truth, one module per subject; callers import the module (`from apps.labeling.services import
queue`), this package re-exports nothing."""
