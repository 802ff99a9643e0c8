"""Warnings derived from the finished report: per column, per correlation and for the target."""

from __future__ import annotations

import math
from typing import Any

from apps.datasets.profiling.base import Context


# --------------------------------------------------------------------------------------------------- warnings
def _warn(severity: str, code: str, column: str | None, message: str) -> dict[str, Any]:
    return {"severity": severity, "code": code, "column": column, "message": message}


def report_warnings(ctx: Context, report: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    summary = report["summary"]
    if summary["duplicate_rows"]:
        ratio = summary["duplicate_ratio"]
        out.append(
            _warn(
                "medium" if ratio >= 0.05 else "low",
                "duplicates",
                None,
                f"{summary['duplicate_rows']:,} duplicate rows ({ratio:.1%}).",
            )
        )
    for col in report["columns"]:
        out.extend(_column_warnings(col, summary["rows"]))
    out.extend(_correlation_warnings(report.get("correlations") or {}, ctx.target))
    out.extend(_target_warnings(report))
    for item in (report.get("multicollinearity") or {}).get("columns", []):
        if item["perfect"]:
            out.append(
                _warn(
                    "high",
                    "perfect_collinearity",
                    item["column"],
                    f"{item['column']} is a linear combination of other numeric columns.",
                )
            )
        elif item["vif"] is not None and item["vif"] > 10:
            out.append(
                _warn(
                    "medium",
                    "high_vif",
                    item["column"],
                    f"VIF {item['vif']:.1f} (> 10): strongly explained by other numeric columns.",
                )
            )
    order = {"high": 0, "medium": 1, "low": 2}
    out.sort(key=lambda w: order[w["severity"]])
    return out


def _column_warnings(col: dict[str, Any], rows: int) -> list[dict[str, Any]]:
    name, out = col["name"], []
    ratio = col["missing_ratio"]
    if rows and col["missing"] == rows:
        return [_warn("high", "empty_column", name, f"{name} has no values.")]
    if ratio >= 0.5:
        out.append(_warn("high", "high_missing", name, f"{ratio:.1%} of {name} is missing."))
    elif ratio >= 0.2:
        out.append(_warn("medium", "high_missing", name, f"{ratio:.1%} of {name} is missing."))
    elif ratio >= 0.1:
        out.append(_warn("low", "missing", name, f"{ratio:.1%} of {name} is missing."))
    if col["distinct"] == 1:
        out.append(_warn("high", "constant", name, f"{name} has a single value; it carries no information."))
    if col["type"] == "identifier":
        out.append(_warn("low", "identifier", name, f"{name} looks like an identifier; leave it out of models."))
    if col["type"] == "categorical" and (col["distinct"] > 1000 or col["distinct_ratio"] > 0.5):
        out.append(_warn("medium", "high_cardinality", name, f"{name} has {col['distinct']:,} distinct values."))
    if col.get("invalid"):
        out.append(
            _warn(
                "medium",
                "invalid_values",
                name,
                f"{col['invalid']:,} values of {name} are not valid {col['type']} values.",
            )
        )
    blanks = col.get("empty_strings", 0) + col.get("whitespace_only", 0)
    if blanks:
        out.append(_warn("low", "blank_strings", name, f"{blanks:,} values of {name} are empty or only spaces."))
    num = col.get("numeric") or {}
    if num.get("skew") is not None and abs(num["skew"]) > 2:
        out.append(_warn("low", "skewed", name, f"{name} is highly skewed (skew {num['skew']:.1f})."))
    if num.get("outliers", {}).get("ratio", 0) > 0.05:
        out.append(_warn("low", "outliers", name, f"{num['outliers']['ratio']:.1%} of {name} are outliers."))
    if col.get("infinite"):
        out.append(_warn("medium", "infinite_values", name, f"{name} has {col['infinite']:,} infinite values."))
    return out


def _correlation_warnings(corr: dict[str, Any], target: str | None) -> list[dict[str, Any]]:
    """Feature pairs with |Pearson| >= 0.95 (pairs with the target are the leakage check's business)."""
    pearson = corr.get("pearson")
    if not pearson:
        return []
    out: list[dict[str, Any]] = []
    cols, values = pearson["columns"], pearson["values"]
    for i in range(len(cols)):
        for j in range(i + 1, len(cols)):
            v = values[i][j]
            if target in (cols[i], cols[j]):
                continue
            if v is not None and math.isfinite(v) and abs(v) >= 0.95:
                out.append(
                    _warn(
                        "medium",
                        "high_correlation",
                        cols[i],
                        f"{cols[i]} and {cols[j]} are highly correlated (Pearson {v:.3f}).",
                    )
                )
    return out


def _target_warnings(report: dict[str, Any]) -> list[dict[str, Any]]:
    target = report.get("target")
    out: list[dict[str, Any]] = []
    if not target:
        return out
    name = target["name"]
    if target["problem_type"] == "unsupported":
        out.append(_warn("high", "target_unsupported", name, target["guess_reason"] + "."))
    if target.get("missing"):
        out.append(_warn("medium", "target_missing", name, f"{target['missing']:,} rows have no target value."))
    minority = target.get("minority_ratio")
    if minority is not None and minority < 0.1:
        out.append(
            _warn(
                "high" if minority < 0.01 else "medium",
                "imbalance",
                name,
                f"The smallest class is {minority:.1%} of rows (imbalance ratio {target['imbalance_ratio']:.1f}).",
            )
        )
    for feature in (report.get("leakage") or {}).get("features", []):
        if feature["flag"]:
            out.append(
                _warn(
                    "high",
                    "target_leakage",
                    feature["column"],
                    f"{feature['column']} alone predicts {name} almost perfectly "
                    f"({feature['metric']} {feature['score']:.3f}); check it is known at prediction time.",
                )
            )
    return out
