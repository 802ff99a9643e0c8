from django.db import models


class ReportKind(models.TextChoices):
    """A report on a dataset alone (pre-training bias) or on a model too (post-training bias and explanations)."""

    DATA = "data", "Data (pre-training)"
    MODEL = "model", "Model (pre- and post-training)"


class MitigationKind(models.TextChoices):
    REWEIGH = "reweigh", "Reweigh the rows (a new dataset version)"
    RESAMPLE = "resample", "Resample the rows (a new dataset version)"
    EXPONENTIATED_GRADIENT = "exponentiated_gradient", "Retrain under a fairness constraint (a new Canvas build)"
    THRESHOLD_OPTIMIZER = "threshold_optimizer", "Per-group thresholds (a new candidate)"
