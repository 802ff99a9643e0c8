"""Tables the tests build models on (plain pandas: no Django, so a subprocess can import them without settings)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def binary_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    y = np.where(x1 - x2 + (colour == "red") + rng.normal(scale=0.3, size=n) > 0, "yes", "no")
    return pd.DataFrame({"x1": x1, "x2": x2, "colour": pd.array(colour, "string"), "churn": y})


def multiclass_frame(n: int = 150, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    label = np.where(a > 0.5, "high", np.where(a < -0.5, "low", "mid"))
    return pd.DataFrame({"a": a, "b": b, "band": label})


def regression_frame(n: int = 120, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.uniform(-2, 2, size=n)
    return pd.DataFrame({"a": a, "b": b, "price": 3 * a + b + rng.normal(scale=0.2, size=n)})


# Small tables for the AutoML engine's plain-module tests (no database).


def make_binary(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Numbers with missing values, a categorical with a rare level, a boolean, a date, an id, a constant."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue", "violet"], size=n, p=[0.45, 0.3, 0.23, 0.02])
    member = rng.random(n) < 0.4
    signup = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    logit = 1.5 * x1 - 1.0 * x2 + (colour == "red") * 1.2 + member * 0.8
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    x1_missing = x1.copy()
    x1_missing[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + n),
            "x1": x1_missing,
            "x2": x2,
            "colour": pd.array(colour, "string"),
            "member": member,
            "signup": signup,
            "const": 7,
            "churn": y,
        }
    )


def make_regression(n: int = 400, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.uniform(-2, 2, size=n)
    grade = rng.choice(["A", "B", "C"], size=n)
    y = 3.0 * a + np.sin(2 * b) * 2.0 + (grade == "A") * 2.5 + rng.normal(scale=0.5, size=n)
    return pd.DataFrame({"a": a, "b": b, "grade": pd.array(grade, "string"), "price": y})


def make_iris() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    d = load_iris(as_frame=True)
    df = d.data.copy()
    df["species"] = pd.Series(np.asarray(d.target_names)[d.target], dtype="string")
    return df
