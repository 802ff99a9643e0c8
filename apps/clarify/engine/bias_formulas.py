"""The 21 bias metrics as SageMaker Clarify defines them (its open-source library smclarify is the reference:
tests/clarify/test_bias_parity.py compares every value), computed from counts.

One comparison is the sensitive group d against the rest a. Everything except FT is a function of a few counts:
`Cells.counts[side, label, predicted]` (side 0 = a, 1 = d; label and predicted 0/1) and, for CDDL/CDDPL, the same
per subgroup of the group variable. bias.py computes those counts for every facet value at once with one
`np.bincount`, so a metric costs microseconds after one pass over the rows. FT (FlipTest) needs the rows: a k-NN
classifier (scikit-learn, the same settings as SageMaker) fit on a's rows with the model's predictions, asked about
d's rows.

Edge rules (SageMaker's): x/0 is +inf (-inf for x < 0), 0/0 is 0; a difference of two +inf is 0; an empty
group or no common label value makes the metric an error, never a number."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

INFINITY = float("inf")


class MetricError(ValueError):
    """A metric that cannot be computed for this data (analysis.json writes value null and this message)."""


def divide(a: float, b: float) -> float:
    if b == 0:
        if a == 0:
            return 0.0
        return -INFINITY if a < 0 else INFINITY
    return a / b


def _difference(x: float, y: float) -> float:
    # SageMaker: when both sides are +inf the difference is 0 (not nan).
    if x == y == INFINITY:
        return 0.0
    return x - y


@dataclass(frozen=True)
class Cells:
    """Counts for one comparison. counts[side, label, predicted], side 0 = the rest (a), 1 = the sensitive group (d).
    group_label / group_predicted: [subgroup, side, 0/1] for the conditional metrics (None without a group)."""

    counts: np.ndarray
    group_label: np.ndarray | None = None
    group_predicted: np.ndarray | None = None

    def side(self, d: int) -> tuple[int, int, int, int]:
        """(TP, FP, FN, TN) of one side."""
        c = self.counts[d]
        return int(c[1, 1]), int(c[0, 1]), int(c[1, 0]), int(c[0, 0])

    def n(self, d: int) -> int:
        return int(self.counts[d].sum())


def _require_both(cells: Cells) -> tuple[int, int]:
    na, nd = cells.n(0), cells.n(1)
    if nd == 0:
        raise MetricError("The sensitive group (facet d) is empty.")
    if na == 0:
        raise MetricError("The rest of the rows (facet a) is empty: every row is in the sensitive group.")
    return na, nd


def ci(cells: Cells) -> float:
    na, nd = cells.n(0), cells.n(1)
    if na == 0:
        raise MetricError("The rest of the rows (facet a) is empty: every row is in the sensitive group.")
    if nd == 0:
        raise MetricError("The sensitive group (facet d) is empty.")
    return float(na - nd) / (na + nd)


def _positive_proportion_difference(cells: Cells, axis: str) -> float:
    na, nd = cells.n(0), cells.n(1)
    if na == 0:
        raise MetricError("The rest of the rows (facet a) is empty: every row is in the sensitive group.")
    if nd == 0:
        raise MetricError("The sensitive group (facet d) is empty.")
    if axis == "label":
        pos_a, pos_d = int(cells.counts[0, 1].sum()), int(cells.counts[1, 1].sum())
    else:
        pos_a, pos_d = int(cells.counts[0, :, 1].sum()), int(cells.counts[1, :, 1].sum())
    return pos_a / na - pos_d / nd


def dpl(cells: Cells) -> float:
    return _positive_proportion_difference(cells, "label")


def dppl(cells: Cells) -> float:
    return _positive_proportion_difference(cells, "predicted")


def _label_distributions(cells: Cells) -> tuple[np.ndarray, np.ndarray]:
    """The label distributions of a and d over the label values (negative, positive), keeping only the values with a
    non-zero share on both sides (as SageMaker does; the shares are not renormalised)."""
    a = [int(cells.counts[0, 0].sum()), int(cells.counts[0, 1].sum())]
    d = [int(cells.counts[1, 0].sum()), int(cells.counts[1, 1].sum())]
    na, nd = sum(a), sum(d)
    pa, pd_ = [], []
    for ca, cd in zip(a, d, strict=True):
        if ca and cd:
            pa.append(ca / na)
            pd_.append(cd / nd)
    return np.array(pa), np.array(pd_)


_NO_COMMON = "No label value occurs in both the sensitive group and the rest (one of them may be empty)."


def kl(cells: Cells) -> float:
    pa, pd_ = _label_distributions(cells)
    if len(pa) == 0:
        raise MetricError(_NO_COMMON)
    return float(np.sum(pa * np.log(pa / pd_)))


def js(cells: Cells) -> float:
    pa, pd_ = _label_distributions(cells)
    if len(pa) == 0:
        raise MetricError(_NO_COMMON)
    p = 0.5 * (pa + pd_)
    return float(0.5 * (np.sum(pa * np.log(pa / p)) + np.sum(pd_ * np.log(pd_ / p))))


def _norm(cells: Cells, order: float) -> float:
    pa, pd_ = _label_distributions(cells)
    if len(pa) == 0:
        raise MetricError(_NO_COMMON)
    return float(np.linalg.norm(pa - pd_, order))


def lp(cells: Cells) -> float:
    return _norm(cells, 2)


def tvd(cells: Cells) -> float:
    return 0.5 * _norm(cells, 1)


def ks(cells: Cells) -> float:
    return _norm(cells, np.inf)


def _cdd(table: np.ndarray | None, total_positive: int, total_negative: int) -> float:
    """table[subgroup, side, y]: the demographic disparity D - A per subgroup (D: d's share of the rejected, A: d's
    share of the accepted; 0 where a subgroup has none), averaged with the subgroup sizes."""
    if table is None:
        raise MetricError("No group variable was given: the conditional metric needs one.")
    if total_positive == 0:
        raise MetricError("There is no positive outcome in the data.")
    if total_negative == 0:
        raise MetricError("There is no negative outcome in the data.")
    both = table.sum(axis=1)  # [subgroup, y]
    d = table[:, 1, :]
    accepted, rejected = both[:, 1], both[:, 0]
    share_accepted = np.where(accepted > 0, d[:, 1] / np.maximum(accepted, 1), 0.0)
    share_rejected = np.where(rejected > 0, d[:, 0] / np.maximum(rejected, 1), 0.0)
    sizes = both.sum(axis=1).astype(np.float64)
    disparity = share_rejected - share_accepted
    return divide(float(np.sum(sizes * disparity)), float(np.sum(sizes)))


def cddl(cells: Cells) -> float:
    totals = cells.counts.sum(axis=(0, 2))
    return _cdd(cells.group_label, int(totals[1]), int(totals[0]))


def cddpl(cells: Cells) -> float:
    totals = cells.counts.sum(axis=(0, 1))
    return _cdd(cells.group_predicted, int(totals[1]), int(totals[0]))


def di(cells: Cells) -> float:
    na, nd = cells.n(0), cells.n(1)
    if na == 0:
        raise MetricError("The rest of the rows (facet a) is empty: every row is in the sensitive group.")
    if nd == 0:
        raise MetricError("The sensitive group (facet d) is empty.")
    qa = int(cells.counts[0, :, 1].sum()) / na
    qd = int(cells.counts[1, :, 1].sum()) / nd
    return divide(qd, qa)


def dca(cells: Cells) -> float:
    _require_both(cells)
    tp_a, fp_a, fn_a, _ = cells.side(0)
    tp_d, fp_d, fn_d, _ = cells.side(1)
    return _difference(divide(tp_a + fn_a, tp_a + fp_a), divide(tp_d + fn_d, tp_d + fp_d))


def dcr(cells: Cells) -> float:
    _require_both(cells)
    _, fp_a, fn_a, tn_a = cells.side(0)
    _, fp_d, fn_d, tn_d = cells.side(1)
    return _difference(divide(tn_d + fp_d, tn_d + fn_d), divide(tn_a + fp_a, tn_a + fn_a))


def dar(cells: Cells) -> float:
    _require_both(cells)
    tp_a, fp_a, _, _ = cells.side(0)
    tp_d, fp_d, _, _ = cells.side(1)
    return _difference(divide(tp_a, tp_a + fp_a), divide(tp_d, tp_d + fp_d))


def drr(cells: Cells) -> float:
    _require_both(cells)
    _, _, fn_a, tn_a = cells.side(0)
    _, _, fn_d, tn_d = cells.side(1)
    return _difference(divide(tn_d, tn_d + fn_d), divide(tn_a, tn_a + fn_a))


def rd(cells: Cells) -> float:
    _require_both(cells)
    tp_a, _, fn_a, _ = cells.side(0)
    tp_d, _, fn_d, _ = cells.side(1)
    return _difference(divide(tp_a, tp_a + fn_a), divide(tp_d, tp_d + fn_d))


def sd(cells: Cells) -> float:
    _require_both(cells)
    _, fp_a, _, tn_a = cells.side(0)
    _, fp_d, _, tn_d = cells.side(1)
    return _difference(divide(tn_d, tn_d + fp_d), divide(tn_a, tn_a + fp_a))


def ad(cells: Cells) -> float:
    _require_both(cells)
    tp_a, fp_a, fn_a, tn_a = cells.side(0)
    tp_d, fp_d, fn_d, tn_d = cells.side(1)
    acc_a = divide(tp_a + tn_a, tp_a + tn_a + fp_a + fn_a)
    acc_d = divide(tp_d + tn_d, tp_d + tn_d + fp_d + fn_d)
    return _difference(acc_a, acc_d)


def te(cells: Cells) -> float:
    _require_both(cells)
    _, fp_a, fn_a, _ = cells.side(0)
    _, fp_d, fn_d, _ = cells.side(1)
    return _difference(divide(fn_d, fp_d), divide(fn_a, fp_a))


def ge(cells: Cells) -> float:
    """Generalized entropy index with alpha = 2 over every row's benefit b = predicted - label + 1 (0, 1 or 2)."""
    total = cells.counts.sum(axis=0)  # [label, predicted]
    n = int(total.sum())
    if n == 0:
        raise MetricError("The data is empty.")
    zero, two = int(total[1, 0]), int(total[0, 1])  # false negatives, false positives
    one = n - zero - two
    mean = (one + 2 * two) / n
    if mean == 0:
        raise MetricError("Every prediction is a false negative: the generalized entropy is undefined.")
    alpha = 2
    s = zero * (0.0 - 1.0) + one * ((1 / mean) ** alpha - 1) + two * ((2 / mean) ** alpha - 1)
    return s / (n * alpha * (alpha - 1))


def flip_test(features: np.ndarray, sensitive: np.ndarray, predicted: np.ndarray) -> float:
    """FlipTest: a k-NN classifier (k = 5, or 1 when a has fewer than 10 rows; Euclidean distance, uniform votes)
    fit on the rest's feature rows with the model's predictions, asked about each sensitive row. FT = (rows the model
    predicts positive but the k-NN negative - the other way round) / rows in d."""
    from sklearn.neighbors import KNeighborsClassifier

    nd = int(np.count_nonzero(sensitive))
    na = len(sensitive) - nd
    if nd == 0:
        raise MetricError("The sensitive group (facet d) is empty.")
    if na == 0:
        raise MetricError("The rest of the rows (facet a) is empty: every row is in the sensitive group.")
    if not np.isfinite(features).all():
        bad = int((~np.isfinite(features)).any(axis=1).sum())
        raise MetricError(f"FlipTest needs complete numeric feature rows; {bad} rows have a missing value.")
    rest = ~sensitive
    knn = KNeighborsClassifier(n_neighbors=5 if na > 9 else 1)
    knn.fit(features[rest], predicted[rest])
    counterfactual = knn.predict(features[sensitive]).astype(bool)
    model = predicted[sensitive]
    flipped_down = int(np.count_nonzero(model & ~counterfactual))
    flipped_up = int(np.count_nonzero(~model & counterfactual))
    return divide(flipped_down - flipped_up, nd)


COUNT_METRICS = {
    "CI": ci,
    "DPL": dpl,
    "KL": kl,
    "JS": js,
    "LP": lp,
    "TVD": tvd,
    "KS": ks,
    "CDDL": cddl,
    "DPPL": dppl,
    "DI": di,
    "DCA": dca,
    "DCR": dcr,
    "RD": rd,
    "SD": sd,
    "DAR": dar,
    "DRR": drr,
    "AD": ad,
    "TE": te,
    "CDDPL": cddpl,
    "GE": ge,
}


def cells_from_masks(
    sensitive: np.ndarray,
    positive: np.ndarray,
    predicted: np.ndarray | None = None,
    group_codes: np.ndarray | None = None,
) -> Cells:
    """Counts for one comparison from boolean rows (group_codes: integer subgroup per row, -1 = missing)."""
    s = np.asarray(sensitive, dtype=bool).astype(np.intp)
    y = np.asarray(positive, dtype=bool).astype(np.intp)
    p = np.zeros_like(y) if predicted is None else np.asarray(predicted, dtype=bool).astype(np.intp)
    counts = np.bincount(s * 4 + y * 2 + p, minlength=8).reshape(2, 2, 2)
    group_label = group_predicted = None
    if group_codes is not None:
        g = np.asarray(group_codes)
        keep = g >= 0
        n_groups = int(g.max()) + 1 if keep.any() else 0
        base = g[keep] * 4 + s[keep] * 2
        group_label = np.bincount(base + y[keep], minlength=n_groups * 4).reshape(n_groups, 2, 2)
        group_predicted = np.bincount(base + p[keep], minlength=n_groups * 4).reshape(n_groups, 2, 2)
    return Cells(counts, group_label, group_predicted)


def compute(
    names: Iterable[str],
    cells: Cells,
    *,
    features: np.ndarray | None = None,
    sensitive: np.ndarray | None = None,
    predicted: np.ndarray | None = None,
) -> dict[str, float | MetricError]:
    """Each metric's value, or the MetricError saying why it cannot be computed. FT needs features, sensitive and
    predicted rows; the others only the cells."""
    out: dict[str, float | MetricError] = {}
    for name in names:
        try:
            if name == "FT":
                if features is None or sensitive is None or predicted is None:
                    raise MetricError("FlipTest needs the feature columns.")
                out[name] = flip_test(features, sensitive, predicted)
            else:
                out[name] = float(COUNT_METRICS[name](cells))
        except MetricError as exc:
            out[name] = exc
    return out
