from django.db import models


class ProblemType(models.TextChoices):
    BINARY = "binary", "Binary classification"
    MULTICLASS = "multiclass", "Multiclass classification"
    REGRESSION = "regression", "Regression"


class BuildMode(models.TextChoices):
    QUICK = "quick", "Quick"
    STANDARD = "standard", "Standard"


MAX_BUDGET_S = 4 * 3600
MIN_BUDGET_S = 2
