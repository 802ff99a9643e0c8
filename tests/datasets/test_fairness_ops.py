"""The fairness operators of the Data Wrangler ("Reweigh for fairness", "Resample for fairness") and the Clarify
engine functions behind them: AIF360's reweighing weights on a table checked by hand and against AIF360's own
formulas on a random one, uniform resampling's cell sizes, the parameter and data errors, and the exported script.

Plain pandas: no Django, no database.
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from apps.clarify.engine import mitigate
from apps.datasets.transforms import ParameterError, flow_to_script, get_operator, run_flow

# 10 rows. Sensitive group (sex == "F"): 4 rows, 1 positive; others: 6 rows, 4 positive. n=10, 5 positive.
HAND = pd.DataFrame(
    {
        "sex": ["F", "F", "F", "F", "M", "M", "M", "M", "M", "M"],
        "hired": ["yes", "no", "no", "no", "yes", "yes", "yes", "yes", "no", "no"],
        "age": [25, 31, 47, 52, 23, 38, 41, 29, 60, 35],
    }
)
REWEIGH = {"label": "hired", "positive_values": ["yes"], "facet": "sex", "facet_values": ["F"]}
# weight = P(S=s) P(Y=y) / P(S=s, Y=y) = n_s n_y / (n n_sy)
HAND_WEIGHTS = {
    ("F", "yes"): Fraction(4 * 5, 10 * 1),  # 2
    ("F", "no"): Fraction(4 * 5, 10 * 3),  # 2/3
    ("M", "yes"): Fraction(6 * 5, 10 * 4),  # 3/4
    ("M", "no"): Fraction(6 * 5, 10 * 2),  # 3/2
}


def run(name: str, df: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    return get_operator(name).apply(df, params)


def biased(n: int = 2_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = np.where(rng.random(n) < 0.3, "F", "M")
    rate = np.where(sex == "F", 0.2, 0.6)
    return pd.DataFrame(
        {
            "sex": sex,
            "income": rng.normal(50, 10, n).round(2),
            "hired": np.where(rng.random(n) < rate, "yes", "no"),
            "score": rng.integers(0, 100, n),
        }
    )


def dpl(df: pd.DataFrame, weights: str | None = None) -> float:
    w = df[weights] if weights else pd.Series(1.0, index=df.index)
    pos = (df["hired"] == "yes").astype(float)
    female = df["sex"] == "F"
    q_a = (w[~female] * pos[~female]).sum() / w[~female].sum()
    q_d = (w[female] * pos[female]).sum() / w[female].sum()
    return float(q_a - q_d)


# --- reweighing ---------------------------------------------------------------------------------------------------


def test_reweigh_gives_aif360s_weights_on_a_hand_checked_table() -> None:
    out = run("fairness_reweigh", HAND, REWEIGH)
    assert list(out.columns) == ["sex", "hired", "age", "fairness_weight"]
    pd.testing.assert_frame_equal(out[HAND.columns], HAND)
    expected = [float(HAND_WEIGHTS[(s, h)]) for s, h in zip(HAND["sex"], HAND["hired"], strict=True)]
    assert out["fairness_weight"].tolist() == pytest.approx(expected, abs=1e-15)
    assert out["fairness_weight"].sum() == pytest.approx(len(HAND))  # the total weight stays n
    assert dpl(HAND) == pytest.approx(4 / 6 - 1 / 4)
    assert dpl(out, "fairness_weight") == pytest.approx(0.0, abs=1e-15)


def test_reweigh_equals_aif360s_fit_formulas_on_a_random_table() -> None:
    df = biased(5_000, seed=3)
    out = run("fairness_reweigh", df, REWEIGH | {"weight_column": "w"})
    # AIF360 Reweighing.fit: privileged = not sensitive, favorable = positive
    priv, fav = (df["sex"] != "F").to_numpy(), (df["hired"] == "yes").to_numpy()
    n, n_p, n_up = len(df), priv.sum(), (~priv).sum()
    n_fav, n_unfav = fav.sum(), (~fav).sum()
    w_p_fav = n_fav * n_p / (n * (priv & fav).sum())
    w_p_unfav = n_unfav * n_p / (n * (priv & ~fav).sum())
    w_up_fav = n_fav * n_up / (n * (~priv & fav).sum())
    w_up_unfav = n_unfav * n_up / (n * (~priv & ~fav).sum())
    expected = np.select(
        [priv & fav, priv & ~fav, ~priv & fav, ~priv & ~fav], [w_p_fav, w_p_unfav, w_up_fav, w_up_unfav]
    )
    np.testing.assert_allclose(out["w"].to_numpy(), expected, rtol=1e-14)
    assert dpl(df) > 0.3
    assert abs(dpl(out, "w")) < 1e-12


def test_thresholds_and_missing_values() -> None:
    df = pd.DataFrame(
        {
            "age": [20.0, 30.0, 45.0, 50.0, 61.0, 70.0, np.nan, 33.0],
            "pay": [10, 80, 90, 20, 30, 70, 50, None],
        }
    )
    # sensitive: age > 40 (45, 50, 61, 70); positive: pay > 60 (80, 90, 70). Rows 6 and 7 lack a facet or label.
    out = run("fairness_reweigh", df, {"label": "pay", "label_threshold": 60, "facet": "age", "facet_threshold": 40})
    # n=6; sensitive 4 (pos 2: 90, 70), other 2 (pos 1: 80); positives 3, negatives 3
    assert out["fairness_weight"].tolist() == pytest.approx(
        [2 * 3 / (6 * 1), 2 * 3 / (6 * 1), 4 * 3 / (6 * 2), 4 * 3 / (6 * 2), 4 * 3 / (6 * 2), 4 * 3 / (6 * 2), 1, 1]
    )


def test_values_are_matched_as_the_user_wrote_them() -> None:
    df = pd.DataFrame({"grade": [1, 2, 3, 1, 2, 3, 1, 2], "ok": [True, False, True, True, False, False, False, False]})
    as_text = run(
        "fairness_reweigh", df, {"label": "ok", "positive_values": ["True"], "facet": "grade", "facet_values": ["1"]}
    )
    as_values = run(
        "fairness_reweigh", df, {"label": "ok", "positive_values": [True], "facet": "grade", "facet_values": [1]}
    )
    pd.testing.assert_frame_equal(as_text, as_values)
    spelled = run(
        "fairness_reweigh", df, {"label": "ok", "positive_values": "Yes", "facet": "grade", "facet_values": 1}
    )
    pd.testing.assert_frame_equal(spelled, as_values)  # a yes/no spelling; one value without the list
    # grade 1: 3 rows, 2 positive; 3 positive of 8 -> weights 3*3/(8*2) and 3*5/(8*1)
    assert as_text.loc[df["grade"] == 1, "fairness_weight"].tolist() == [9 / 16, 9 / 16, 15 / 8]


# --- resampling ---------------------------------------------------------------------------------------------------


def test_resample_brings_every_cell_to_its_expected_size() -> None:
    df = biased(3_000, seed=1)
    out = run("fairness_resample", df, REWEIGH | {"seed": 7})
    before = df.groupby(["sex", "hired"]).size()
    after = out.groupby(["sex", "hired"]).size()
    n = len(df)
    for (sex, hired), _count in before.items():
        expected = (df["sex"] == sex).sum() * (df["hired"] == hired).sum() / n
        assert after[(sex, hired)] == int(np.floor(expected + 0.5)), (sex, hired)
    # too small cells (women hired, men not hired) keep every original row and get duplicates of them
    for sex, hired in [("F", "yes"), ("M", "no")]:
        cell = df[(df["sex"] == sex) & (df["hired"] == hired)]
        grown = out[(out["sex"] == sex) & (out["hired"] == hired)]
        assert len(grown) > len(cell)
        assert set(map(tuple, cell.to_numpy())) == set(map(tuple, grown.to_numpy()))
    # too large cells keep a subset of their rows, without duplicates
    shrunk = out[(out["sex"] == "F") & (out["hired"] == "no")]
    assert not shrunk.duplicated().any() and len(shrunk) < ((df["sex"] == "F") & (df["hired"] == "no")).sum()
    assert dpl(df) > 0.3 and abs(dpl(out)) < 0.005
    assert isinstance(out.index, pd.RangeIndex) and out.index.start == 0


def test_resample_is_seeded_and_keeps_rows_without_label_or_facet() -> None:
    df = biased(500, seed=2).assign(row=np.arange(500))
    df.loc[[3, 10], "hired"] = None
    df.loc[[5], "sex"] = None
    a = run("fairness_resample", df, REWEIGH | {"seed": 1})
    b = run("fairness_resample", df, REWEIGH | {"seed": 1})
    c = run("fairness_resample", df, REWEIGH | {"seed": 2})
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert a["hired"].isna().sum() == 2 and a["sex"].isna().sum() == 1
    # rows keep their order, a duplicate right after its original
    assert a["row"].is_monotonic_increasing and a["row"].duplicated().any()


# --- errors -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "param", "message"),
    [
        ("fairness_reweigh", REWEIGH | {"facet": "gender"}, "facet", "'gender' not found"),
        ("fairness_resample", REWEIGH | {"label": "nope"}, "label", "'nope' not found"),
        ("fairness_reweigh", REWEIGH | {"facet_values": ["X"]}, "facet_values", "Facet value(s) 'X' never occur"),
        (
            "fairness_reweigh",
            REWEIGH | {"facet_values": ["F", "X", 7]},
            "facet_values",
            "'X', 7 never occur in column 'sex'",
        ),
        ("fairness_resample", REWEIGH | {"positive_values": ["maybe"]}, "positive_values", "'maybe' never occur"),
        ("fairness_reweigh", REWEIGH | {"positive_values": ["yes", "no"]}, "label", "has one class only"),
        ("fairness_reweigh", REWEIGH | {"facet_values": ["F", "M"]}, "facet_values", "split the rows in two"),
        (
            "fairness_reweigh",
            {"label": "hired", "label_threshold": 3, "facet": "sex", "facet_values": ["F"]},
            "label_threshold",
            "needs a numeric label column",
        ),
        ("fairness_reweigh", REWEIGH | {"facet_threshold": 3}, "facet_threshold", "not both"),
        ("fairness_reweigh", {"label": "hired", "facet": "sex", "facet_values": ["F"]}, "positive_values", "Give"),
        ("fairness_reweigh", REWEIGH | {"facet": "hired"}, "facet", "another column than 'label'"),
        ("fairness_reweigh", REWEIGH | {"facet_values": [["F"]]}, "facet_values", "must be a list of facet values"),
        ("fairness_reweigh", REWEIGH | {"weight_column": "age"}, "weight_column", "'age' already exists"),
        ("fairness_resample", REWEIGH | {"seed": -1}, "seed", "at least 0"),
    ],
)
def test_parameter_and_data_errors_name_the_parameter(
    name: str, params: dict[str, Any], param: str, message: str
) -> None:
    with pytest.raises(ParameterError) as caught:
        get_operator(name).validate(params, [HAND])
    assert caught.value.param == param
    assert message in caught.value.message


def test_a_group_without_positive_labels_cannot_be_mitigated() -> None:
    df = HAND.assign(hired=["no", "no", "no", "no", "yes", "yes", "yes", "yes", "no", "no"])
    for name in ("fairness_reweigh", "fairness_resample"):
        with pytest.raises(ParameterError, match="sensitive group of facet 'sex' has no positive label"):
            get_operator(name).validate(REWEIGH, [df])


def test_engine_check_returns_the_cells_and_summaries() -> None:
    counts = mitigate.check_inputs(HAND, label="hired", positive_values=["yes"], facet="sex", facet_values=["F"])
    assert counts.tolist() == [1, 3, 4, 2]
    cells = [c.as_dict() for c in mitigate.cell_summary(counts)]
    assert cells[0] == {"group": "sensitive", "label": "positive", "count": 1, "expected": 2.0, "weight": 2.0}
    assert [c["weight"] for c in cells] == pytest.approx([2, 2 / 3, 3 / 4, 3 / 2])
    rates = mitigate.positive_rates(HAND, label="hired", positive_values=["yes"], facet="sex", facet_values=["F"])
    assert rates == pytest.approx({"q_a": 4 / 6, "q_d": 1 / 4, "DPL": 4 / 6 - 1 / 4})


# --- exported script ----------------------------------------------------------------------------------------------


def test_the_exported_flow_script_gives_the_executors_output(tmp_path: Path) -> None:
    source = tmp_path / "people.parquet"
    biased(1_500, seed=5).to_parquet(source, index=False)
    flow = {
        "format": 1,
        "sources": [{"id": "people", "name": "people", "dataset_version": None}],
        "steps": [
            {"id": "resampled", "op": "fairness_resample", "inputs": ["people"], "parameters": REWEIGH | {"seed": 4}},
            {"id": "weighted", "op": "fairness_reweigh", "inputs": ["resampled"], "parameters": REWEIGH},
        ],
    }
    result = run_flow(flow, {"people": pd.read_parquet(source)}, refit=True)
    script = tmp_path / "flow.py"
    script.write_text(flow_to_script(result.flow, {"people": str(source)}))
    text = script.read_text()
    assert "apps." not in text and "def fairness_reweigh(" in text and "def fairness_resample(" in text
    completed = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "out.parquet")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out.parquet"), result.output.reset_index(drop=True))
    # resampled then reweighed: the cells are already balanced, so every weight is ~1
    assert result.output["fairness_weight"].to_numpy() == pytest.approx(1.0, abs=0.01)
