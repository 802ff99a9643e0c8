"""Tables the dataset tests share (helpers, no tests): every transform's example use and its input frames, and a
frame encoded in each upload format."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

NAN = np.nan


def base_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6, 7, 8],
            "price": [10.0, 12.5, NAN, 11.0, 250.0, 9.5, 10.5, 13.0],
            "qty": [1, 2, 3, 4, 5, 6, 7, 8],
            "city": ["Paris", "Lyon", None, "Paris", "Nice", "Paris", "Lyon", "Brest"],
            "code": ["A-1", "B-22", "C-3", None, "A-4", "B-5", "C-66", "A-7"],
            "when": pd.to_datetime(
                [
                    "2024-01-01",
                    "2024-03-09 14:30:05",
                    None,
                    "2023-12-31 23:00",
                    "2024-06-15",
                    "2024-02-29 06:00",
                    "2024-07-04",
                    "2024-10-10 10:10",
                ],
                format="ISO8601",
            ),
            "ended": pd.to_datetime(
                [
                    "2024-01-02 12:00",
                    "2024-03-10",
                    "2024-01-01",
                    None,
                    "2024-06-15",
                    "2024-03-01",
                    "2024-07-05",
                    "2024-10-11",
                ],
                format="ISO8601",
            ),
            "review": ["great product", "bad", None, "great great value", "ok product", "bad value", "fine", "great"],
            "label": ["yes", "no", "no", "no", "no", "yes", "no", "no"],
            "flag": [True, False, True, True, False, False, True, False],
        }
    )


def other_frame() -> pd.DataFrame:
    return pd.DataFrame({"id": [2, 3, 4, 9], "city": ["Lyon", "X", "Paris", "Y"], "score": [0.5, 0.25, 0.75, 1.0]})


FRAMES: dict[str, Callable[[], pd.DataFrame]] = {"base": base_frame, "other": other_frame}

# One valid use of every operator: (operator, parameters, inputs).
EXAMPLES: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("drop_columns", {"columns": ["qty", "code"]}, ("base",)),
    ("select_columns", {"columns": ["city", "id"]}, ("base",)),
    ("rename_columns", {"mapping": {"qty": "quantity", "city": "town"}}, ("base",)),
    ("duplicate_column", {"column": "price", "new_column": "price_copy"}, ("base",)),
    ("move_column", {"column": "label", "position": 0}, ("base",)),
    ("cast_columns", {"columns": ["qty"], "to": "string"}, ("base",)),
    ("filter_rows", {"expression": "price > 10 and city in ['Paris', 'Lyon']"}, ("base",)),
    ("sort_rows", {"columns": ["city", "price"], "ascending": False, "na_position": "first"}, ("base",)),
    ("drop_duplicates", {"subset": ["city"], "keep": "last"}, ("base",)),
    ("sample_rows", {"mode": "fraction", "fraction": 0.5, "seed": 7}, ("base",)),
    ("head_rows", {"n": 3}, ("base",)),
    ("drop_missing", {"columns": ["price", "city"]}, ("base",)),
    ("fill_missing", {"columns": ["city", "code"], "value": "unknown"}, ("base",)),
    ("impute_missing", {"columns": ["price"], "strategy": "median"}, ("base",)),
    ("add_missing_indicator", {"columns": ["price", "city"]}, ("base",)),
    ("forward_fill", {"columns": ["price", "city"]}, ("base",)),
    ("backward_fill", {"columns": ["price"], "limit": 1}, ("base",)),
    ("outliers_std", {"columns": ["price"], "n_std": 2.0, "action": "clip"}, ("base",)),
    ("outliers_robust_std", {"columns": ["price", "qty"], "n_std": 3.0, "action": "remove"}, ("base",)),
    ("outliers_quantile", {"columns": ["qty"], "lower": 0.1, "upper": 0.9}, ("base",)),
    ("outliers_minmax", {"columns": ["price"], "min": 10.0, "max": 100.0, "action": "remove"}, ("base",)),
    ("one_hot_encode", {"columns": ["city"], "unknown": "indicator"}, ("base",)),
    ("ordinal_encode", {"columns": ["city", "label"]}, ("base",)),
    ("group_rare_categories", {"columns": ["city"], "min_count": 2}, ("base",)),
    ("count_encode", {"columns": ["city"]}, ("base",)),
    ("standard_scale", {"columns": ["price", "qty"]}, ("base",)),
    ("robust_scale", {"columns": ["price"]}, ("base",)),
    ("minmax_scale", {"columns": ["qty"], "feature_min": -1.0, "feature_max": 1.0}, ("base",)),
    ("maxabs_scale", {"columns": ["price"]}, ("base",)),
    ("log_transform", {"columns": ["price"], "method": "log10"}, ("base",)),
    ("bin_numeric", {"columns": ["price"], "n_bins": 3}, ("base",)),
    ("change_case", {"columns": ["city"], "case": "upper"}, ("base",)),
    ("strip_text", {"columns": ["code"], "side": "left", "characters": "AB"}, ("base",)),
    ("pad_text", {"columns": ["code"], "width": 6, "fill_char": "0"}, ("base",)),
    ("add_prefix_suffix", {"columns": ["city"], "prefix": "<", "suffix": ">"}, ("base",)),
    ("replace_regex", {"columns": ["code"], "pattern": r"([A-Z])-(\d+)", "replacement": r"\2\1"}, ("base",)),
    ("replace_values", {"columns": ["city"], "mapping": {"Paris": "PAR", "Nice": None}}, ("base",)),
    ("split_column", {"column": "code", "delimiter": "-", "max_parts": 3}, ("base",)),
    ("extract_regex", {"column": "code", "pattern": r"(?P<letter>[A-Z])-(\d+)"}, ("base",)),
    ("combine_columns", {"columns": ["city", "qty"], "new_column": "city_qty", "separator": "#"}, ("base",)),
    ("extract_datetime_parts", {"column": "when", "parts": ["year", "month", "weekday", "is_weekend"]}, ("base",)),
    ("cyclic_encode_datetime", {"column": "when", "parts": ["month", "hour"]}, ("base",)),
    ("datetime_difference", {"start": "when", "end": "ended", "new_column": "hours", "unit": "hours"}, ("base",)),
    ("text_length", {"columns": ["review"]}, ("base",)),
    ("word_count", {"columns": ["review"]}, ("base",)),
    ("tfidf", {"column": "review", "max_features": 4}, ("base",)),
    ("random_oversample", {"target": "label", "seed": 3}, ("base",)),
    ("random_undersample", {"target": "label", "seed": 3}, ("base",)),
    ("smote", {"target": "label", "features": ["qty", "price"], "k_neighbors": 1, "seed": 3}, ("base",)),
    (
        "fairness_reweigh",
        {"label": "label", "positive_values": ["yes"], "facet": "qty", "facet_threshold": 3},
        ("base",),
    ),
    (
        "fairness_resample",
        {"label": "qty", "label_threshold": 4, "facet": "city", "facet_values": ["Paris"], "seed": 3},
        ("base",),
    ),
    ("pca", {"columns": ["qty", "id", "price"], "n_components": 2}, ("base",)),
    (
        "group_by_aggregate",
        {
            "keys": ["label"],
            "aggregations": [{"column": "price", "func": "mean", "as": "avg_price"}, {"column": "id", "func": "count"}],
        },
        ("base",),
    ),
    ("custom_formula", {"new_column": "total", "expression": "fillna(price, 0) * qty"}, ("base",)),
    ("sql", {"query": "SELECT label, SUM(qty) AS qty FROM df GROUP BY label ORDER BY label"}, ("base",)),
    ("join", {"how": "left", "on": ["id"]}, ("base", "other")),
    ("concatenate", {"columns": "union", "source_column": "origin"}, ("base", "other")),
]


def frame_formats() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3, 4], "name": ["a", "b", "c", "d"], "score": [0.5, 1.5, None, 3.0]})


def encode(fmt: str, frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    if fmt == "csv":
        frame.to_csv(buffer, index=False)
    elif fmt == "tsv":
        frame.to_csv(buffer, index=False, sep="\t")
    elif fmt == "parquet":
        frame.to_parquet(buffer, index=False)
    elif fmt == "json":
        buffer.write(frame.to_json(orient="records").encode())
    elif fmt == "jsonl":
        buffer.write(frame.to_json(orient="records", lines=True).encode())
    elif fmt == "xlsx":
        frame.to_excel(buffer, index=False)
    return buffer.getvalue()
