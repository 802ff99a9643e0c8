"""Canvas AutoML engine: plain Python (no Django). Everything it reports is JSON-serialisable; fitted models are
returned separately and persisted by the caller.

Public API:
    build(df, BuildConfig(...), progress=, cancel=) -> BuildResult(model, report)
    fit_candidate(df, config, algorithm, params) -> BuildResult: one named candidate refitted and analysed
    check_data(df, target, ...) -> [{code, severity, column?, message}]
    predict(model, rows) -> {predictions, probabilities?};  SchemaError(message, columns)
    typical_values / model.typical, save_model / load_model
    detect_problem_type, resolve_objective, metric_catalogue
    tuning: the AMT core (ranges, strategies, one-trial evaluation, shared studies)
    unsupervised: pca, kmeans, isolation_forest
    fair: fit_fair (a Fairlearn ExponentiatedGradient build), threshold_model (ThresholdOptimizer over a model)
"""

from .algorithms import ALGORITHMS
from .builder import MODES, BuildConfig, BuildError, BuildResult, build
from .candidate import fit_candidate
from .checks import check_data, has_errors
from .columns import detect_problem_type, infer_columns
from .fair import FairnessError, clean_fairness, fit_fair, threshold_model
from .metrics import DEFAULT_OBJECTIVE, METRICS, metric_catalogue, resolve_objective
from .model import AtelierModel, SchemaError, check_rows, load_model, predict, save_model, typical_values
from .search import BuildCancelled
from .space import SpecError

__all__ = [
    "ALGORITHMS",
    "DEFAULT_OBJECTIVE",
    "METRICS",
    "MODES",
    "AtelierModel",
    "BuildCancelled",
    "BuildConfig",
    "BuildError",
    "BuildResult",
    "FairnessError",
    "SchemaError",
    "SpecError",
    "build",
    "check_data",
    "check_rows",
    "clean_fairness",
    "detect_problem_type",
    "fit_candidate",
    "fit_fair",
    "has_errors",
    "infer_columns",
    "load_model",
    "metric_catalogue",
    "predict",
    "resolve_objective",
    "save_model",
    "threshold_model",
    "typical_values",
]
