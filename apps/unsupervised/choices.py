from django.db import models


class Algorithm(models.TextChoices):
    PCA = "pca", "PCA"
    KMEANS = "kmeans", "k-means"
    ISOLATION_FOREST = "isolation_forest", "Isolation forest"


class KMethod(models.TextChoices):
    """How k-means picks k when it is "auto"."""

    SILHOUETTE = "silhouette", "Best silhouette"
    ELBOW = "elbow", "Elbow of the inertia curve"


# The options each algorithm takes (the run's `options` JSON holds these keys only).
OPTION_NAMES: dict[str, tuple[str, ...]] = {
    Algorithm.PCA: ("n_components", "variance", "seed"),
    Algorithm.KMEANS: ("k", "k_min", "k_max", "method", "seed"),
    Algorithm.ISOLATION_FOREST: ("contamination", "seed"),
}

AUTO = "auto"
DEFAULT_VARIANCE = 0.9
K_LOWEST, K_HIGHEST = 2, 50
DEFAULT_K_MIN, DEFAULT_K_MAX = 2, 10
MAX_CONTAMINATION = 0.5
MAX_SEED = 2**32 - 1
