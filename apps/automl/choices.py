from django.db import models


class ProblemType(models.TextChoices):
    BINARY = "binary", "Binary classification"
    MULTICLASS = "multiclass", "Multiclass classification"
    REGRESSION = "regression", "Regression"


class BuildMode(models.TextChoices):
    QUICK = "quick", "Quick"
    STANDARD = "standard", "Standard"
    TUNED = "tuned", "Tuning job (best trial)"


class TuningStrategy(models.TextChoices):
    BAYESIAN = "bayesian", "Bayesian (TPE)"
    RANDOM = "random", "Random search"
    GRID = "grid", "Grid search"
    HYPERBAND = "hyperband", "Hyperband"


MAX_BUDGET_S = 4 * 3600
MIN_BUDGET_S = 2
