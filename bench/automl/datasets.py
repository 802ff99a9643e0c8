"""Real datasets that ship inside PyPI packages (nothing is downloaded): scikit-learn's bundled sets,
palmerpenguins and statsmodels' bundled CSVs. Each loader returns (task, X, y) with y a Series; rows with a
missing target are dropped here, the same for every system."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

BINARY, MULTICLASS, REGRESSION = "binary", "multiclass", "regression"
Loaded = tuple[str, pd.DataFrame, pd.Series]


def _sklearn(name: str, task: str) -> Callable[[], Loaded]:
    def load() -> Loaded:
        from sklearn import datasets

        d = getattr(datasets, f"load_{name}")(as_frame=True)
        X = d.data.copy()
        X.columns = [str(c).replace(" ", "_") for c in X.columns]
        return task, X, d.target.rename("target")

    return load


def _penguins(target: str, task: str) -> Callable[[], Loaded]:
    def load() -> Loaded:
        from palmerpenguins import load_penguins

        df = load_penguins()
        df = df[df[target].notna()].reset_index(drop=True)
        return task, df.drop(columns=[target]), df[target]

    return load


def _fair() -> Loaded:
    from statsmodels.datasets import fair

    df = fair.load_pandas().data
    occupations = {1: "student", 2: "farming", 3: "white-collar", 4: "teacher", 5: "professional", 6: "managerial"}
    for col in ("occupation", "occupation_husb"):
        df[col] = df[col].astype(int).map(occupations).astype("string")
    y = (df["affairs"] > 0).map({True: "yes", False: "no"}).rename("had_affair")
    return BINARY, df.drop(columns=["affairs"]), y


def _anes96() -> Loaded:
    from statsmodels.datasets import anes96

    df = anes96.load_pandas().data
    party = {
        0: "strong-dem",
        1: "weak-dem",
        2: "lean-dem",
        3: "independent",
        4: "lean-rep",
        5: "weak-rep",
        6: "strong-rep",
    }
    df["PID"] = df["PID"].astype(int).map(party).astype("string")
    y = df["vote"].map({0.0: "Clinton", 1.0: "Dole"}).rename("vote")
    return BINARY, df.drop(columns=["vote"]), y


def _randhie() -> Loaded:
    from statsmodels.datasets import randhie

    df = randhie.load_pandas().data
    return REGRESSION, df.drop(columns=["mdvis"]), df["mdvis"].astype(float)


def _grunfeld() -> Loaded:
    from statsmodels.datasets import grunfeld

    df = grunfeld.load_pandas().data
    df["firm"] = df["firm"].astype("string")
    return REGRESSION, df.drop(columns=["invest"]), df["invest"].astype(float)


def _star98() -> Loaded:
    from statsmodels.datasets import star98

    df = star98.load_pandas().data
    total = df["NABOVE"] + df["NBELOW"]
    y = (df["NABOVE"] / total.replace(0, np.nan)).rename("share_above")
    X = df.drop(columns=["NABOVE", "NBELOW"])
    keep = y.notna()
    return REGRESSION, X[keep].reset_index(drop=True), y[keep].reset_index(drop=True)


DATASETS: dict[str, Callable[[], Loaded]] = {
    "breast_cancer": _sklearn("breast_cancer", BINARY),
    "wine": _sklearn("wine", MULTICLASS),
    "digits": _sklearn("digits", MULTICLASS),
    "diabetes": _sklearn("diabetes", REGRESSION),
    "penguins_species": _penguins("species", MULTICLASS),
    "penguins_mass": _penguins("body_mass_g", REGRESSION),
    "fair_affairs": _fair,
    "anes96_vote": _anes96,
    "randhie_visits": _randhie,
    "grunfeld_invest": _grunfeld,
    "star98_share": _star98,
}
QUICK = ["breast_cancer", "penguins_mass"]


def load(name: str) -> Loaded:
    try:
        return DATASETS[name]()
    except KeyError:
        raise SystemExit(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}") from None
