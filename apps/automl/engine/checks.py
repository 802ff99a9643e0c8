"""The checklist shown before a build: [{code, severity, column?, message}]. Errors block the build."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from .columns import CONSTANT, IDENTIFIER, UNSUPPORTED, ColumnInfo, infer_columns, validate_problem_type
from .metrics import BINARY, MULTICLASS, REGRESSION
from .preprocess import bool_to_float

ERROR = "error"
WARNING = "warning"
MIN_ROWS = 20
FEW_ROWS = 100
ROWS_PER_CLASS = 5
LEAK_THRESHOLD = 0.98
LEAK_SAMPLE = 5000
LEAK_BINS = 32


def _item(code: str, severity: str, message: str, column: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "severity": severity, "message": message}
    if column is not None:
        out["column"] = column
    out.update(extra)
    return out


def has_errors(checks: list[dict[str, Any]]) -> bool:
    return any(c["severity"] == ERROR for c in checks)


def check_data(
    df: pd.DataFrame,
    target: str,
    *,
    problem_type: str | None = None,
    leaky_columns: list[str] | None = None,
    exclude_columns: list[str] | None = None,
    drop_identifiers: bool = True,
    seed: int = 0,
    leak_check: bool = True,
    columns: dict[str, ColumnInfo] | None = None,
) -> list[dict[str, Any]]:
    """Everything that would make a build fail or mislead, with a message a person can act on."""
    out: list[dict[str, Any]] = []
    names = [str(c) for c in df.columns]
    duplicated = sorted({c for c in names if names.count(c) > 1})
    if duplicated:
        return [
            _item(
                "duplicate_columns",
                ERROR,
                f"Column names must be unique; repeated: {', '.join(duplicated)}.",
                duplicated[0],
                columns=duplicated,
            )
        ]
    if target not in df.columns:
        return [_item("target_missing", ERROR, f"The target column {target!r} is not in the data.", target)]
    y = df[target]
    n_missing = int(y.isna().sum())
    n = len(df) - n_missing
    if n_missing:
        out.append(
            _item(
                "target_missing_values",
                WARNING,
                f"{n_missing} row(s) have no value in the target {target!r}; they are dropped.",
                target,
                count=n_missing,
            )
        )
    if n < MIN_ROWS:
        out.append(
            _item(
                "too_few_rows",
                ERROR,
                f"Only {n} row(s) have a target value; at least {MIN_ROWS} are needed to train and validate a model.",
                count=n,
            )
        )
    elif n < FEW_ROWS:
        out.append(
            _item(
                "few_rows",
                WARNING,
                f"Only {n} rows have a target value; with fewer than {FEW_ROWS} "
                "rows the scores are noisy and models may not generalise.",
                count=n,
            )
        )
    yv = y.dropna()
    try:
        pt = validate_problem_type(problem_type, yv)
    except ValueError as exc:
        return [*out, _item("problem_type_invalid", ERROR, str(exc), target)]
    n_classes = int(yv.nunique())
    if n_classes < 2:
        out.append(
            _item(
                "target_single_class",
                ERROR,
                f"The target {target!r} has "
                f"{'no values' if n_classes == 0 else 'a single value'}; a model needs at least two.",
                target,
            )
        )
    elif pt == REGRESSION:
        if pd.to_numeric(yv, errors="coerce").isna().any():
            out.append(
                _item(
                    "target_not_numeric",
                    ERROR,
                    f"The target {target!r} has values that are not numbers, "
                    "so it cannot be used for regression; choose a classification problem type.",
                    target,
                )
            )
    elif pt == BINARY and n_classes > 2:
        out.append(
            _item(
                "target_not_binary",
                ERROR,
                f"The target {target!r} has {n_classes} classes, so the problem cannot be binary; choose multiclass.",
                target,
            )
        )
    elif pt in (BINARY, MULTICLASS):
        counts = yv.astype(str).value_counts()
        tiny = counts[counts < 2]
        if len(tiny):
            shown = ", ".join(repr(v) for v in tiny.index[:5])
            out.append(
                _item(
                    "class_too_small",
                    ERROR,
                    f"{len(tiny)} class(es) of {target!r} have a single row "
                    f"({shown}{' …' if len(tiny) > 5 else ''}); each class needs at least 2 rows for "
                    "cross-validation. Remove those rows or merge the classes.",
                    target,
                    classes=[str(v) for v in tiny.index[:20]],
                )
            )
        if n_classes > max(2, n / ROWS_PER_CLASS):
            out.append(
                _item(
                    "too_many_classes",
                    ERROR,
                    f"The target {target!r} has {n_classes} classes for {n} "
                    f"rows; a classifier needs at least {ROWS_PER_CLASS} rows per class on average. Is it "
                    "an identifier or a number that should be a regression target?",
                    target,
                )
            )
    excluded = set(exclude_columns or [])
    columns = columns if columns is not None else infer_columns(df, target)
    usable = 0
    for name, info in columns.items():
        if name in excluded:
            continue
        if info.kind == CONSTANT:
            out.append(_item("constant_column", WARNING, f"Column {name!r} has {info.reason}; it is dropped.", name))
        elif info.kind == IDENTIFIER:
            action = "it is dropped" if drop_identifiers else "it is kept because identifiers are not dropped"
            out.append(
                _item(
                    "identifier_column",
                    WARNING,
                    f"Column {name!r} looks like an identifier ({info.reason}); {action}.",
                    name,
                )
            )
            usable += 0 if drop_identifiers else 1
        elif info.kind == UNSUPPORTED:
            out.append(
                _item(
                    "unsupported_column",
                    WARNING,
                    f"Column {name!r} ({info.dtype}): {info.reason}; it is dropped.",
                    name,
                )
            )
        else:
            usable += 1
    if usable == 0:
        out.append(
            _item(
                "no_features",
                ERROR,
                "No usable feature column is left after dropping the target, "
                "excluded, constant, identifier and unsupported columns.",
            )
        )
    flagged = set()
    for name in leaky_columns or []:
        if name in df.columns and name != target and name not in excluded:
            flagged.add(name)
            out.append(
                _item(
                    "leakage",
                    WARNING,
                    f"Column {name!r} was flagged by the data profile as possible "
                    "target leakage (it predicts the target almost perfectly on its own). Exclude it unless "
                    "it is known at prediction time.",
                    name,
                    source="profile",
                )
            )
    if leak_check and not has_errors(out):
        for name, score in quick_leakage(df, target, pt, columns, seed=seed).items():
            if name in flagged or name in excluded:
                continue
            out.append(
                _item(
                    "leakage",
                    WARNING,
                    f"Column {name!r} alone predicts the target almost perfectly "
                    f"(score {score:.3f} on a sample); it may leak the answer. Exclude it unless it is "
                    "known at prediction time.",
                    name,
                    source="check",
                    score=round(score, 4),
                )
            )
    return out


# --------------------------------------------------------------------------------------------------- leakage
def _as_number(s: pd.Series, kind: str) -> np.ndarray:
    if kind == "datetime":
        v = pd.to_datetime(s, errors="coerce", format="mixed")
        return ((v - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)).to_numpy(dtype=float, na_value=np.nan)
    if kind == "boolean":
        return bool_to_float(s)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _rank_score(x: np.ndarray, y: np.ndarray, n_classes: int) -> float:
    """|2·AUC − 1| of the raw values (binary) or Spearman ρ² (regression); missing values at the median."""
    finite = np.isfinite(x)
    if finite.sum() < MIN_ROWS:
        return 0.0
    x = np.where(finite, x, np.median(x[finite]))
    if np.ptp(x) == 0:
        return 0.0
    if n_classes == 2:
        return abs(2.0 * float(roc_auc_score(y, x)) - 1.0)
    rho = spearmanr(x, y).statistic
    return float(rho) ** 2 if np.isfinite(rho) else 0.0


def _bins(s: pd.Series, kind: str) -> np.ndarray:
    """Bin codes: quantile bins for numbers, the most frequent levels for labels, missing as its own bin."""
    if kind in ("numeric", "boolean", "datetime"):
        x = _as_number(s, kind)
        finite = np.isfinite(x)
        if not finite.any():
            return np.zeros(len(s), dtype=np.int64)
        edges = np.unique(np.quantile(x[finite], np.linspace(0, 1, LEAK_BINS + 1)[1:-1]))
        codes = np.searchsorted(edges, np.where(finite, x, 0.0), side="right")
        return np.where(finite, codes, len(edges) + 1).astype(np.int64)
    labels = s.astype(str).where(s.notna(), None)
    top = labels.value_counts().index[:255]
    mapping = {v: i for i, v in enumerate(top)}
    return labels.map(mapping).fillna(len(top)).to_numpy(dtype=np.int64)


def quick_leakage(
    df: pd.DataFrame,
    target: str,
    problem_type: str,
    columns: dict[str, ColumnInfo],
    *,
    seed: int = 0,
    threshold: float = LEAK_THRESHOLD,
) -> dict[str, float]:
    """Columns whose single-feature model (out-of-fold bin means) predicts the target nearly perfectly.

    Score: R² for regression; for classification the out-of-fold balanced accuracy rescaled so that chance is 0
    and perfect is 1. Flagged at ``threshold`` or above. Runs on a sample of at most 5,000 rows."""
    data = df[df[target].notna()]
    if len(data) > LEAK_SAMPLE:
        data = data.sample(LEAK_SAMPLE, random_state=seed)
    if len(data) < MIN_ROWS:
        return {}
    y_raw = data[target]
    if problem_type == REGRESSION:
        y = pd.to_numeric(y_raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if np.isnan(y).any() or np.var(y) == 0:
            return {}
        n_classes = 0
    else:
        _, y = np.unique(y_raw.astype(str).to_numpy(), return_inverse=True)
        n_classes = int(y.max()) + 1
        if n_classes < 2:
            return {}
    folds = np.random.default_rng(seed).permutation(len(data)) % 5
    flagged: dict[str, float] = {}
    for name, info in columns.items():
        if info.kind in (CONSTANT, IDENTIFIER, UNSUPPORTED, "text"):
            continue
        bins = _bins(data[name], info.kind)
        score = _single_feature_score(bins, y, folds, n_classes)
        if info.kind != "categorical" and n_classes <= 2:  # ranks catch what coarse bins blur
            score = max(score, _rank_score(_as_number(data[name], info.kind), y, n_classes))
        if score >= threshold:
            flagged[name] = score
    return flagged


def _single_feature_score(bins: np.ndarray, y: np.ndarray, folds: np.ndarray, n_classes: int) -> float:
    nb = int(bins.max()) + 1
    if n_classes == 0:
        pred = np.zeros(len(y))
        for f in range(5):
            tr, va = folds != f, folds == f
            sums = np.bincount(bins[tr], weights=y[tr], minlength=nb)
            counts = np.bincount(bins[tr], minlength=nb)
            prior = y[tr].mean()
            pred[va] = ((sums + prior) / (counts + 1.0))[bins[va]]
        ss = float(np.sum((y - y.mean()) ** 2))
        return 1.0 - float(np.sum((y - pred) ** 2)) / ss if ss > 0 else 0.0
    pred_cls = np.zeros(len(y), dtype=np.int64)
    for f in range(5):
        tr, va = folds != f, folds == f
        table = np.zeros((nb, n_classes))
        np.add.at(table, (bins[tr], y[tr]), 1.0)
        table += np.bincount(y[tr], minlength=n_classes) / max(1, tr.sum())  # prior for empty bins
        pred_cls[va] = table.argmax(axis=1)[bins[va]]
    recalls = [float(np.mean(pred_cls[y == c] == c)) for c in range(n_classes) if np.any(y == c)]
    bacc = float(np.mean(recalls))
    chance = 1.0 / len(recalls)
    return (bacc - chance) / (1.0 - chance)
