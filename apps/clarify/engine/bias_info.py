"""What each bias metric is, for the report: its description (the name SageMaker Clarify writes in analysis.json),
what a value means in plain words, the ideal value, the range, the default flag threshold and which kinds of bias it
can reveal. No computation here; bias.py computes, this module explains.

A metric is flagged when |value - ideal| > threshold (an infinite value is always flagged, a metric that could not be
computed never is). The default thresholds are Atelier's choice (SageMaker Clarify has none): 0.1 for differences
of proportions, 0.2 for CI and DI (DI < 0.8 is the "four-fifths rule"), 0.1 for the divergences."""

from __future__ import annotations

import math
from dataclasses import dataclass

PRE = "pre_training"
POST = "post_training"

SAMPLING = "sampling"
MEASUREMENT = "measurement"
LABELING = "labeling"
MODEL = "model"

# What each kind of bias is, and how the report can (or cannot) reveal it.
BIAS_KINDS: dict[str, str] = {
    SAMPLING: (
        "The data under-represents a group, or its labels are distributed differently from the others': class "
        "imbalance (CI), the difference in positive label rates (DPL) and the distances between the label "
        "distributions (KL, JS, LP, TVD, KS), also within groups (CDDL). A model trained on such data tends to "
        "repeat the imbalance."
    ),
    MEASUREMENT: (
        "The label itself is measured worse for one group. It shows only against a trusted reference: when the "
        "report has a reference column, the label and error rates are compared to it per group. Without one, "
        "no metric can tell a wrong label from a true difference."
    ),
    LABELING: (
        "People who labeled the rows disagree depending on who they are or which group the row belongs to. It is "
        "measured as disagreement per labeler group once the labels come from Ground Truth; a plain dataset "
        "does not say who labeled what, so this report cannot check it."
    ),
    MODEL: (
        "The model treats the groups differently: positive prediction rates (DPPL, DI), accuracy, precision, "
        "recall and error rates per group (DCA, DCR, RD, SD, DAR, DRR, AD, TE), similar rows predicted "
        "differently (FT), and within groups (CDDPL); GE measures how unequally the benefit is spread."
    ),
    "confirmation": (
        "Choosing data, features or thresholds that confirm what one already believes. No automated check can "
        "detect it: it is out of scope for this report and needs a person to review the choices made."
    ),
}
BIAS_KIND_TITLES: dict[str, str] = {
    SAMPLING: "Sampling bias",
    MEASUREMENT: "Measurement bias",
    LABELING: "Observer (labeling) bias",
    MODEL: "Bias in the model's predictions",
    "confirmation": "Confirmation bias",
}


@dataclass(frozen=True)
class MetricInfo:
    name: str  # the name SageMaker Clarify writes in analysis.json
    stage: str  # "pre_training" | "post_training"
    description: str  # analysis.json "description"
    meaning: str  # plain words for the report
    ideal: float
    range: tuple[float, float]
    threshold: float  # default flag threshold on |value - ideal|
    bias_kinds: tuple[str, ...]

    def flagged(self, value: float | None, threshold: float | None = None) -> bool:
        """Whether a value passes the flag threshold (the default one unless given)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        limit = self.threshold if threshold is None else threshold
        return math.isinf(value) or abs(value - self.ideal) > limit


INF = math.inf

_ROWS: tuple[MetricInfo, ...] = (
    MetricInfo(
        "CI",
        PRE,
        "Class Imbalance (CI)",
        "How much smaller the sensitive group is than the rest: (n_a - n_d) / (n_a + n_d). Positive: the group is "
        "under-represented; negative: over-represented.",
        0.0,
        (-1.0, 1.0),
        0.2,
        (SAMPLING,),
    ),
    MetricInfo(
        "DPL",
        PRE,
        "Difference in Positive Proportions in Labels (DPL)",
        "The rest's share of positive labels minus the sensitive group's. Positive: the group gets the positive "
        "label less often in the data.",
        0.0,
        (-1.0, 1.0),
        0.1,
        (SAMPLING, LABELING),
    ),
    MetricInfo(
        "KL",
        PRE,
        "Kullback-Leibler Divergence (KL)",
        "How far the sensitive group's label distribution is from the rest's (0: the same; grows without bound).",
        0.0,
        (0.0, INF),
        0.1,
        (SAMPLING,),
    ),
    MetricInfo(
        "JS",
        PRE,
        "Jensen-Shannon Divergence (JS)",
        "A symmetric, bounded distance between the two groups' label distributions (0: the same; at most ln 2).",
        0.0,
        (0.0, math.log(2)),
        0.05,
        (SAMPLING,),
    ),
    MetricInfo(
        "LP",
        PRE,
        "L-p Norm (LP)",
        "The Euclidean (p = 2) distance between the two groups' label distributions (0: the same).",
        0.0,
        (0.0, math.sqrt(2)),
        0.1,
        (SAMPLING,),
    ),
    MetricInfo(
        "TVD",
        PRE,
        "Total Variation Distance (TVD)",
        "Half the L1 distance between the two groups' label distributions: the share of labels that would have to "
        "change for them to match.",
        0.0,
        (0.0, 1.0),
        0.1,
        (SAMPLING,),
    ),
    MetricInfo(
        "KS",
        PRE,
        "Kolmogorov-Smirnov Distance (KS)",
        "The largest difference, over the label values, between the two groups' label distributions.",
        0.0,
        (0.0, 1.0),
        0.1,
        (SAMPLING,),
    ),
    MetricInfo(
        "CDDL",
        PRE,
        "Conditional Demographic Disparity in Labels (CDDL)",
        "Within each subgroup of the group variable: the sensitive group's share of the rejected minus its share of "
        "the accepted, averaged with the subgroup sizes. Positive: the group is rejected more than accepted even "
        "when compared like with like (guards against Simpson's paradox).",
        0.0,
        (-1.0, 1.0),
        0.1,
        (SAMPLING, LABELING),
    ),
    MetricInfo(
        "DPPL",
        POST,
        "Difference in Positive Proportions in Predicted Labels (DPPL)",
        "The rest's share of positive predictions minus the sensitive group's. Positive: the model predicts the "
        "positive outcome less often for the group (demographic parity difference, with a sign).",
        0.0,
        (-1.0, 1.0),
        0.1,
        (MODEL,),
    ),
    MetricInfo(
        "DI",
        POST,
        "Disparate Impact (DI)",
        "The sensitive group's rate of positive predictions divided by the rest's. 1: equal; below 1: the group is "
        "predicted positive less often (below 0.8 fails the four-fifths rule).",
        1.0,
        (0.0, INF),
        0.2,
        (MODEL,),
    ),
    MetricInfo(
        "DCA",
        POST,
        "Difference in Conditional Acceptance (DCA)",
        "Observed positives per predicted positive, the rest minus the sensitive group. Positive: the group is "
        "accepted more than its labels justify relative to the rest (the model is more lenient with it). "
        "SageMaker's documentation calls it DCAcc.",
        0.0,
        (-INF, INF),
        0.1,
        (MODEL, MEASUREMENT),
    ),
    MetricInfo(
        "DCR",
        POST,
        "Difference in Conditional Rejection (DCR)",
        "Observed negatives per predicted negative, the sensitive group minus the rest. Positive: the group is "
        "rejected less than its labels justify relative to the rest.",
        0.0,
        (-INF, INF),
        0.1,
        (MODEL, MEASUREMENT),
    ),
    MetricInfo(
        "RD",
        POST,
        "Recall Difference (RD)",
        "Recall (true positive rate) of the rest minus the sensitive group's. Positive: the model finds fewer of the "
        "group's true positives.",
        0.0,
        (-1.0, 1.0),
        0.1,
        (MODEL, MEASUREMENT),
    ),
    MetricInfo(
        "SD",
        POST,
        "Specificity Difference (SD)",
        "Specificity (true negative rate) of the sensitive group minus the rest's. Negative: more of the group's "
        "true negatives are wrongly predicted positive.",
        0.0,
        (-1.0, 1.0),
        0.1,
        (MODEL, MEASUREMENT),
    ),
    MetricInfo(
        "DAR",
        POST,
        "Difference in Acceptance Rates (DAR)",
        "Precision of the rest minus the sensitive group's: how much less often a positive prediction for the group "
        "is right.",
        0.0,
        (-1.0, 1.0),
        0.1,
        (MODEL, MEASUREMENT),
    ),
    MetricInfo(
        "DRR",
        POST,
        "Difference in Rejection Rates (DRR)",
        "Negative predictive value of the sensitive group minus the rest's: how much more often a negative "
        "prediction for the group is right.",
        0.0,
        (-1.0, 1.0),
        0.1,
        (MODEL, MEASUREMENT),
    ),
    MetricInfo(
        "AD",
        POST,
        "Accuracy Difference (AD)",
        "Accuracy on the rest minus accuracy on the sensitive group. Positive: the model is less accurate for the "
        "group.",
        0.0,
        (-1.0, 1.0),
        0.1,
        (MODEL, MEASUREMENT),
    ),
    MetricInfo(
        "TE",
        POST,
        "Treatment Equality (TE)",
        "False negatives per false positive, the sensitive group minus the rest: whether the group's errors lean "
        "more towards wrongful rejections.",
        0.0,
        (-INF, INF),
        0.5,
        (MODEL, MEASUREMENT),
    ),
    MetricInfo(
        "FT",
        POST,
        "Flip Test (FT)",
        "For each row of the sensitive group, the model's prediction is compared with the majority prediction of "
        "its nearest rows in the rest (k-NN on the other features): (rows flipped to negative - rows flipped to "
        "positive in the counterfactual) / group size. Positive: the group is predicted positive more often than "
        "similar rows of the rest.",
        0.0,
        (-1.0, 1.0),
        0.1,
        (MODEL,),
    ),
    MetricInfo(
        "CDDPL",
        POST,
        "Conditional Demographic Disparity in Predicted Labels (CDDPL)",
        "CDDL on the predictions: within each subgroup, the sensitive group's share of predicted rejections minus "
        "its share of predicted acceptances, averaged with the subgroup sizes.",
        0.0,
        (-1.0, 1.0),
        0.1,
        (MODEL,),
    ),
    MetricInfo(
        "GE",
        POST,
        "Generalized Entropy (GE)",
        "How unequally the model's benefit (prediction - label + 1) is spread over all rows (alpha = 2; 0: every row "
        "gets the same benefit). Not per group: the same for every facet.",
        0.0,
        (0.0, 0.5),
        0.1,
        (MODEL,),
    ),
)

METRICS: dict[str, MetricInfo] = {row.name: row for row in _ROWS}
# SageMaker's documentation says DCAcc, its API and analysis.json say DCA: both are accepted as input.
ALIASES: dict[str, str] = {"DCAcc": "DCA"}
PRE_TRAINING: tuple[str, ...] = ("CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL")
POST_TRAINING: tuple[str, ...] = ("DPPL", "DI", "DCA", "DCR", "RD", "SD", "DAR", "DRR", "AD", "TE", "FT", "CDDPL", "GE")


def metric_info(name: str) -> MetricInfo:
    """The row for a metric name (an alias such as DCAcc included); KeyError for an unknown name."""
    return METRICS[ALIASES.get(name, name)]
