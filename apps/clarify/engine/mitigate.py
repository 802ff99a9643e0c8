"""Pre-processing bias mitigations that change the data itself: reweighing and uniform resampling.

Both split the rows into four cells: facet group (sensitive = facet d, the rows with one of the sensitive values or
above the threshold; the rest = facet a) x label (positive = one of the positive values, or above the threshold; the
rest negative). With n rows, n_s rows in group s, n_y rows with label y and n_sy rows in cell (s, y):

- **reweighing** (Kamiran & Calders 2012, as AIF360's ``Reweighing`` computes it): every row of cell (s, y) gets the
  weight ``P(S=s) P(Y=y) / P(S=s, Y=y) = n_s n_y / (n n_sy)``. Sensitive = AIF360's unprivileged group, the rest
  its privileged group; positive = its favorable label, negative its unfavorable label. With these weights both
  groups have the same weighted positive rate n_pos / n (DPL 0) and the total weight stays n.
- **uniform resampling** (Kamiran & Calders' uniform sampling): every cell is brought to its expected size
  ``round(n_s n_y / n)`` (its size if group and label were independent): cells that are too small get random
  duplicates of their rows (drawn with replacement) added, cells that are too large keep a random subset.

Rows with a missing label or facet value belong to no cell: they are not counted, keep the weight 1 (AIF360 leaves
rows outside both groups unchanged) and are kept as they are by resampling.

The functions that take a DataFrame (``fairness_reweigh``, ``fairness_resample`` and their helpers) use only pandas,
numpy and builtins: the Data Wrangler copies them verbatim into a flow's exported script. No Django here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_WEIGHT_COLUMN = "fairness_weight"
CELLS = (("sensitive", "positive"), ("sensitive", "negative"), ("other", "positive"), ("other", "negative"))


class MitigationInputError(ValueError):
    """Bad mitigation input; ``field`` names the argument at fault (label, positive_values, facet, ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --------------------------------------------------------------------------------------------
# Kernels (copied into exported scripts: pandas, numpy and builtins only, no module globals)
# --------------------------------------------------------------------------------------------


def fairness_match(column: pd.Series, values: list[Any]) -> np.ndarray:
    """True where the cell holds one of ``values`` as the user wrote them: as numbers for a numeric column ("1" finds
    1.0), as a yes/no spelling for a boolean column ("Yes", "true", "1" find True), as text for a text column ("1"
    finds the text "1"), and equal as values or as text otherwise."""
    values = list(values)
    if pd.api.types.is_bool_dtype(column.dtype):
        spelled = {str(v).strip().lower() for v in values}
        words = ((True, ("true", "yes", "y", "t", "1")), (False, ("false", "no", "n", "f", "0")))
        hit = column.isin([flag for flag, names in words if spelled & set(names)])
    elif pd.api.types.is_numeric_dtype(column.dtype):
        numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").dropna()
        hit = column.isin(numbers.astype("float64").tolist())
    elif isinstance(column.dtype, pd.StringDtype):
        hit = column.isin([str(v) for v in values])
    else:
        hit = column.isin(values) | column.astype("string").isin([str(v) for v in values]).fillna(False)
    return np.asarray(hit.fillna(False), dtype=bool) & np.asarray(column.notna(), dtype=bool)


def fairness_split(
    column: pd.Series, values: list[Any] | None, threshold: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """(in, known) boolean arrays: in = one of ``values`` (or above ``threshold``); known = the value is present."""
    known = np.asarray(column.notna(), dtype=bool)
    if threshold is not None:
        numbers = pd.to_numeric(column, errors="coerce").astype("float64").to_numpy(dtype="float64", na_value=np.nan)
        inside = np.nan_to_num(numbers, nan=-np.inf) > threshold
    else:
        inside = fairness_match(column, list(values or []))
    return inside & known, known


def fairness_cells(
    df: pd.DataFrame,
    label: str,
    positive_values: list[Any] | None,
    label_threshold: float | None,
    facet: str,
    facet_values: list[Any] | None,
    facet_threshold: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(cell, counts): the cell of each row (0 sensitive+positive, 1 sensitive+negative, 2 other+positive,
    3 other+negative, -1 missing label or facet) and the number of rows in each of the four cells."""
    positive, label_known = fairness_split(df[label], positive_values, label_threshold)
    sensitive, facet_known = fairness_split(df[facet], facet_values, facet_threshold)
    cell = np.where(sensitive, 0, 2) + np.where(positive, 0, 1)
    cell = np.where(label_known & facet_known, cell, -1)
    counts = np.bincount(cell[cell >= 0], minlength=4)
    return cell, counts


def fairness_reweigh(
    df: pd.DataFrame,
    label: str,
    facet: str,
    positive_values: list[Any] | None = None,
    label_threshold: float | None = None,
    facet_values: list[Any] | None = None,
    facet_threshold: float | None = None,
    weight_column: str = "fairness_weight",
) -> pd.DataFrame:
    """``df`` with a ``weight_column``: AIF360's reweighing weight n_s n_y / (n n_sy) of the row's (facet group,
    label) cell; 1.0 for rows with a missing label or facet value."""
    if weight_column in df.columns:
        raise ValueError(f"A column named {weight_column!r} already exists")
    cell, counts = fairness_cells(df, label, positive_values, label_threshold, facet, facet_values, facet_threshold)
    n = float(counts.sum())
    group = np.array([counts[0] + counts[1], counts[0] + counts[1], counts[2] + counts[3], counts[2] + counts[3]])
    outcome = np.array([counts[0] + counts[2], counts[1] + counts[3], counts[0] + counts[2], counts[1] + counts[3]])
    with np.errstate(divide="ignore", invalid="ignore"):
        per_cell = group.astype("float64") * outcome.astype("float64") / (n * counts.astype("float64"))
    weights = np.ones(len(df), dtype="float64")
    inside = cell >= 0
    weights[inside] = per_cell[cell[inside]]
    out = df.copy(deep=False)  # copy-on-write: the input frame is left as it was
    out[weight_column] = weights
    return out


def fairness_resample(
    df: pd.DataFrame,
    label: str,
    facet: str,
    positive_values: list[Any] | None = None,
    label_threshold: float | None = None,
    facet_values: list[Any] | None = None,
    facet_threshold: float | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Uniform resampling: every (facet group, label) cell brought to its expected size round(n_s n_y / n), by
    random duplicates of its rows (cells too small) or a random subset (cells too large); rows with a missing label
    or facet value kept. Rows stay in their original order, a duplicate right after its original."""
    cell, counts = fairness_cells(df, label, positive_values, label_threshold, facet, facet_values, facet_threshold)
    n = int(counts.sum())
    group = [counts[0] + counts[1], counts[0] + counts[1], counts[2] + counts[3], counts[2] + counts[3]]
    outcome = [counts[0] + counts[2], counts[1] + counts[3], counts[0] + counts[2], counts[1] + counts[3]]
    rng = np.random.default_rng(seed)
    kept = [np.flatnonzero(cell < 0)]
    for k in range(4):
        members = np.flatnonzero(cell == k)
        goal = int(np.floor(group[k] * outcome[k] / n + 0.5)) if n else 0
        if goal > len(members):
            if not len(members):
                raise ValueError(f"Cell {k} (facet group x label) has no rows to resample from")
            kept.append(members)
            kept.append(rng.choice(members, size=goal - len(members), replace=True))
        elif goal < len(members):
            kept.append(rng.choice(members, size=goal, replace=False))
        else:
            kept.append(members)
    positions = np.sort(np.concatenate(kept).astype("int64"), kind="stable")
    return df.iloc[positions].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Checks and summaries (Python callers: the Data Wrangler operators, Clarify's mitigation service)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellSummary:
    group: str  # "sensitive" (facet d) or "other" (facet a)
    label: str  # "positive" or "negative"
    count: int
    expected: float  # n_s n_y / n
    weight: float | None  # the reweighing weight (None: an empty cell)

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "label": self.label,
            "count": self.count,
            "expected": self.expected,
            "weight": self.weight,
        }


def cell_summary(counts: Sequence[int] | np.ndarray) -> list[CellSummary]:
    """The four cells with their sizes, expected sizes and reweighing weights."""
    c = [int(x) for x in counts]
    n = sum(c)
    group = [c[0] + c[1], c[0] + c[1], c[2] + c[3], c[2] + c[3]]
    outcome = [c[0] + c[2], c[1] + c[3], c[0] + c[2], c[1] + c[3]]
    out = []
    for k, (g, y) in enumerate(CELLS):
        expected = group[k] * outcome[k] / n if n else 0.0
        weight = group[k] * outcome[k] / (n * c[k]) if c[k] else None
        out.append(CellSummary(group=g, label=y, count=c[k], expected=expected, weight=weight))
    return out


def _is_numeric(column: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(column.dtype)) and not pd.api.types.is_bool_dtype(column.dtype)


def _check_side(
    df: pd.DataFrame,
    *,
    column: str,
    values: Sequence[Any] | None,
    threshold: float | None,
    column_field: str,
    values_field: str,
    threshold_field: str,
    what: str,
) -> None:
    if column not in df.columns:
        shown = ", ".join(repr(str(c)) for c in list(df.columns)[:40])
        raise MitigationInputError(column_field, f"Column {column!r} not found. Available columns: {shown}.")
    given_values = values is not None and len(values) > 0
    if given_values == (threshold is not None):
        raise MitigationInputError(
            values_field, f"Give either the {what} value(s) or a threshold for a numeric {what} column (one of them)."
        )
    series = df[column]
    if threshold is not None:
        if not _is_numeric(series):
            raise MitigationInputError(
                threshold_field,
                f"A threshold needs a numeric {what} column; {column!r} is {series.dtype}. Give {what} values instead.",
            )
        return
    missing = [v for v in list(values or []) if not fairness_match(series, [v]).any()]
    if missing:
        shown = ", ".join(repr(v) for v in missing)
        raise MitigationInputError(
            values_field, f"{what.capitalize()} value(s) {shown} never occur in column {column!r}."
        )


def check_inputs(
    df: pd.DataFrame,
    *,
    label: str,
    positive_values: Sequence[Any] | None = None,
    label_threshold: float | None = None,
    facet: str,
    facet_values: Sequence[Any] | None = None,
    facet_threshold: float | None = None,
    method: str = "reweigh",
) -> np.ndarray:
    """Check that the mitigation can run on ``df`` and returns the four cell sizes. Raises MitigationInputError
    (field: label, positive_values, label_threshold, facet, facet_values, facet_threshold) for an unknown column,
    a value that never occurs, a label with one class, a facet that does not split the rows in two, or a cell that
    resampling cannot fill."""
    if label == facet:
        raise MitigationInputError("facet", f"The facet must be another column than the label ({label!r}).")
    _check_side(
        df,
        column=label,
        values=positive_values,
        threshold=label_threshold,
        column_field="label",
        values_field="positive_values",
        threshold_field="label_threshold",
        what="label",
    )
    _check_side(
        df,
        column=facet,
        values=facet_values,
        threshold=facet_threshold,
        column_field="facet",
        values_field="facet_values",
        threshold_field="facet_threshold",
        what="facet",
    )
    _, counts = fairness_cells(
        df,
        label,
        list(positive_values or []) or None,
        label_threshold,
        facet,
        list(facet_values or []) or None,
        facet_threshold,
    )
    positives, negatives = counts[0] + counts[2], counts[1] + counts[3]
    sensitive, other = counts[0] + counts[1], counts[2] + counts[3]
    rule = f"> {label_threshold:g}" if label_threshold is not None else "one of the positive values"
    if positives == 0 or negatives == 0:
        which = "positive" if positives else "negative"
        raise MitigationInputError(
            "label",
            f"The label {label!r} has one class only: no row is {which} ({rule}) among the rows with a label and a "
            "facet value; there is no bias to mitigate.",
        )
    if sensitive == 0 or other == 0:
        which = "in the sensitive group" if not sensitive else "outside the sensitive group"
        raise MitigationInputError(
            "facet_threshold" if facet_threshold is not None else "facet_values",
            f"No row with a label is {which} of facet {facet!r}: the facet must split the rows in two groups.",
        )
    for k, (group, outcome) in enumerate(CELLS):
        if counts[k] == 0:
            where = "the sensitive group" if group == "sensitive" else "the other group"
            raise MitigationInputError(
                "label",
                f"{where.capitalize()} of facet {facet!r} has no {outcome} label: {method} can only weigh or copy "
                "rows that exist, and cannot give that group the overall positive rate.",
            )
    return counts


def positive_rates(
    df: pd.DataFrame,
    *,
    label: str,
    positive_values: Sequence[Any] | None = None,
    label_threshold: float | None = None,
    facet: str,
    facet_values: Sequence[Any] | None = None,
    facet_threshold: float | None = None,
    weights: str | None = None,
) -> dict[str, float]:
    """Positive label rate of the other group (q_a), of the sensitive group (q_d), and their difference DPL =
    q_a - q_d; weighted by column ``weights`` when given (rows with a missing label or facet left out)."""
    positive, label_known = fairness_split(df[label], list(positive_values or []) or None, label_threshold)
    sensitive, facet_known = fairness_split(df[facet], list(facet_values or []) or None, facet_threshold)
    known = label_known & facet_known
    w = df[weights].to_numpy(dtype="float64") if weights else np.ones(len(df))
    w = np.where(known, w, 0.0)
    q_a = float((w * (positive & ~sensitive)).sum() / (w * ~sensitive).sum())
    q_d = float((w * (positive & sensitive)).sum() / (w * sensitive).sum())
    return {"q_a": q_a, "q_d": q_d, "DPL": q_a - q_d}
