"""Featurize text: character length, word count, TF-IDF of the top-k terms (fitted vocabulary and idf)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .base import (
    Operator,
    Param,
    ParameterError,
    Params,
    Trained,
    place_columns,
    quote_list,
    register,
    script_function,
)

GROUP = "Featurize text"
MAX_TFIDF_FEATURES = 200


@script_function(place_columns)
def text_length(df: pd.DataFrame, columns: list[str], suffix: str = "_length") -> pd.DataFrame:
    out = df
    for name in columns:
        out = place_columns(out, name, pd.DataFrame({name + suffix: df[name].str.len().astype("Int64")}))
    return out


@script_function(place_columns)
def word_count(df: pd.DataFrame, columns: list[str], suffix: str = "_words") -> pd.DataFrame:
    """Number of whitespace-separated words."""
    out = df
    for name in columns:
        counts = df[name].str.count(r"\S+").astype("Int64")
        out = place_columns(out, name, pd.DataFrame({name + suffix: counts}))
    return out


@script_function()
def tokenize(s: pd.Series, lowercase: bool) -> tuple[np.ndarray, pd.Series]:
    """Tokens (words of two or more letters or digits) of every row, flattened, with their row positions."""
    text = s.fillna("").astype("str").reset_index(drop=True)
    if lowercase:
        text = text.str.lower()
    tokens = text.str.findall(r"(?u)\b\w\w+\b").explode().dropna()
    return tokens.index.to_numpy(dtype="int64"), tokens.astype("str")


@script_function(tokenize, place_columns)
def tfidf_features(
    df: pd.DataFrame,
    column: str,
    vocabulary: list[str],
    idf: list[float],
    lowercase: bool = True,
    drop_original: bool = False,
) -> pd.DataFrame:
    """One column per vocabulary term: term count x idf, each row scaled to unit length (L2)."""
    rows, tokens = tokenize(df[column], lowercase)
    width = len(vocabulary)
    codes = pd.Index(vocabulary, dtype=object).get_indexer(tokens.astype(object))
    known = codes >= 0
    counts = np.bincount(rows[known] * width + codes[known], minlength=len(df) * width).astype("float64")
    weights = counts.reshape(len(df), width) * np.asarray(idf, dtype="float64")
    norms = np.sqrt((weights**2).sum(axis=1, keepdims=True))
    weights = np.divide(weights, norms, out=np.zeros_like(weights), where=norms > 0)
    names = [f"{column}_tfidf_{term}" for term in vocabulary]
    return place_columns(df, column, pd.DataFrame(weights, columns=names, index=df.index), drop_anchor=drop_original)


class _TextCounter(Operator):
    group = GROUP

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        clash = [c + params["suffix"] for c in params["columns"] if c + params["suffix"] in inputs[0].columns]
        if not params["suffix"] or clash:
            raise ParameterError(f"Parameter 'suffix': column(s) {quote_list(clash)} already exist.", param="suffix")


@register
class TextLength(_TextCounter):
    name = "text_length"
    title = "Text length"
    description = "Add a column with the number of characters of each value."
    params = (Param("columns", "columns", required=True, kind="string"), Param("suffix", "string", default="_length"))
    kernel = text_length


@register
class WordCount(_TextCounter):
    name = "word_count"
    title = "Word count"
    description = "Add a column with the number of whitespace-separated words of each value."
    params = (Param("columns", "columns", required=True, kind="string"), Param("suffix", "string", default="_words"))
    kernel = word_count


@register
class Tfidf(Operator):
    name = "tfidf"
    title = "TF-IDF features"
    group = GROUP
    description = (
        "One column per frequent term (the top 'max_features' by document frequency, learnt when fitted) "
        "holding its TF-IDF weight: term count x (ln((1 + n) / (1 + df)) + 1), rows scaled to unit length."
    )
    params = (
        Param("column", "column", required=True, kind="string"),
        Param("max_features", "integer", default=20, minimum=1, maximum=MAX_TFIDF_FEATURES),
        Param("min_df", "integer", default=1, minimum=1, description="Ignore terms found in fewer rows."),
        Param("lowercase", "boolean", default=True),
        Param("drop_original", "boolean", default=False),
    )
    stateful = True
    kernel = tfidf_features

    def _fit(self, df: pd.DataFrame, params: Params) -> Mapping[str, Any]:
        rows, tokens = tokenize(df[params["column"]], params["lowercase"])
        pairs = pd.DataFrame({"row": rows, "term": tokens.to_numpy()}).drop_duplicates()
        counts = pairs["term"].value_counts()
        counts = counts[counts >= params["min_df"]]
        ranked = sorted(zip(counts.index, counts.to_numpy(), strict=True), key=lambda tc: (-tc[1], tc[0]))
        top = ranked[: params["max_features"]]
        n = len(df)
        return {
            "vocabulary": [str(term) for term, _ in top],
            "idf": [math.log((1 + n) / (1 + int(freq))) + 1 for _, freq in top],
        }

    def kernel_args(self, params: Params, trained: Trained | None) -> dict[str, Any]:
        return {
            "column": params["column"],
            "vocabulary": trained["vocabulary"] if trained is not None else [],
            "idf": trained["idf"] if trained is not None else [],
            "lowercase": params["lowercase"],
            "drop_original": params["drop_original"],
        }
