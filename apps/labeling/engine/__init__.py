"""The consolidation and quality algorithms of Ground Truth, as a plain library (numpy, no Django): votes and
Dawid–Skene (classification.py), boxes, spans, ratings, Bradley–Terry, agreement (Fleiss, Krippendorff), per-worker
statistics (workers.py), and one item's consolidation by task type (consolidate.py)."""
