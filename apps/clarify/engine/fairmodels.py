"""Model mitigations with Fairlearn, for Clarify: a model retrained under a fairness constraint (ExponentiatedGradient
with DemographicParity or EqualizedOdds) and per-group thresholds over a fitted model (ThresholdOptimizer).

The estimators themselves live in the Canvas engine (apps/automl/engine/fair.py) and are re-exported here: a stored
Canvas model is a pickle naming its classes, the registry's MLflow export ships apps/automl/engine and nothing else of
Atelier, and the Canvas builder (which may not import Clarify) trains them. Both are sklearn classifiers used as the
model step of an AtelierModel member, so a stored model predicts, registers, serves and exports like any Canvas model:

* ``ReductionClassifier(base, constraint)``: ``fit(Xt, y, sensitive_features=...)`` on preprocessed features;
  ``predict_proba`` is the randomized classifier's probability of each class (Fairlearn's ``_pmf_predict``).
* ``ThresholdClassifier(model, sensitive, constraint)``: ``fit(X, y)`` on the model's input rows (the sensitive column
  is one of them, read at every prediction); ``predict_proba`` is the thresholded rule's probability of each class.

``fit_fair(df, BuildConfig, option)`` and ``threshold_model(model, df, sensitive=, constraint=, name=)`` return a
BuildResult whose report has a ``fairness`` section: per-group selection, true and false positive rates, the
demographic parity and equalized odds differences and the accuracy, before and after (``comparison.accuracy_cost``).
``fairness_metrics(y, predicted, groups)`` computes that section for any 0/1 predictions.
"""

from apps.automl.engine.fair import (
    CONSTRAINTS,
    DEMOGRAPHIC_PARITY,
    EQUALIZED_ODDS,
    EXPONENTIATED_GRADIENT,
    MAX_GROUPS,
    THRESHOLD_OPTIMIZER,
    FairnessError,
    ReductionClassifier,
    ThresholdClassifier,
    clean_fairness,
    fairness_metrics,
    fit_fair,
    group_labels,
    threshold_model,
)

__all__ = [
    "CONSTRAINTS",
    "DEMOGRAPHIC_PARITY",
    "EQUALIZED_ODDS",
    "EXPONENTIATED_GRADIENT",
    "MAX_GROUPS",
    "THRESHOLD_OPTIMIZER",
    "FairnessError",
    "ReductionClassifier",
    "ThresholdClassifier",
    "clean_fairness",
    "fairness_metrics",
    "fit_fair",
    "group_labels",
    "threshold_model",
]
