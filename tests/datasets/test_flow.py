"""The flow executor: DAG execution, errors naming the step, stateful refit semantics, preview."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from apps.datasets.transforms import FlowError, StepError, preview_step, run_flow, validate_flow


def orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [10, 11, 12, 13, 14],
            "customer": [1, 2, 1, 3, 9],
            "amount": [20.0, np.nan, 40.0, 60.0, 5.0],
        }
    )


def customers() -> pd.DataFrame:
    return pd.DataFrame({"customer": [1, 2, 3], "country": ["FR", "DE", "FR"]})


def returns() -> pd.DataFrame:
    return pd.DataFrame({"order_id": [99], "customer": [2], "amount": [-15.0], "country": ["DE"]})


def step(
    step_id: str, op: str, inputs: list[str], trained: dict[str, Any] | None = None, **parameters: Any
) -> dict[str, Any]:
    return {
        "id": step_id,
        "op": op,
        "op_version": 1,
        "inputs": inputs,
        "parameters": parameters,
        "trained_parameters": trained,
    }


def make_flow(*steps: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": 1,
        "sources": [
            {"id": "orders", "name": "Orders", "dataset_version": 1},
            {"id": "customers", "name": "Customers", "dataset_version": 2},
            {"id": "returns", "name": "Returns", "dataset_version": None},
        ],
        "steps": list(steps),
    }


SOURCES = {"orders": orders(), "customers": customers(), "returns": returns()}

DAG = make_flow(
    step("imputed", "impute_missing", ["orders"], columns=["amount"], strategy="mean"),
    step("joined", "join", ["imputed", "customers"], how="inner", on=["customer"]),
    step("all_rows", "concatenate", ["joined", "returns"], source_column="origin"),
    step(
        "by_country",
        "group_by_aggregate",
        ["all_rows"],
        keys=["country"],
        aggregations=[{"column": "amount", "func": "sum", "as": "total"}, {"column": "order_id", "func": "count"}],
    ),
    step("big", "filter_rows", ["joined"], expression="amount > 30"),
)


def test_dag_with_join_and_concat_computes_every_step() -> None:
    result = run_flow(DAG, SOURCES, refit=True)
    assert set(result.outputs) == {"imputed", "joined", "all_rows", "by_country", "big"}
    assert result.outputs["imputed"]["amount"].tolist() == [20.0, 31.25, 40.0, 60.0, 5.0]
    joined = result.outputs["joined"]
    assert joined["order_id"].tolist() == [10, 11, 12, 13] and joined["country"].tolist() == ["FR", "DE", "FR", "FR"]
    all_rows = result.outputs["all_rows"]
    assert all_rows["origin"].tolist() == ["joined"] * 4 + ["returns"]
    assert result.outputs["by_country"].to_dict("list") == {
        "country": ["DE", "FR"],
        "total": [31.25 - 15.0, 120.0],
        "order_id_count": [2, 3],
    }
    assert result.output["order_id"].tolist() == [11, 12, 13]  # the last step is the default output
    assert set(result.timings) == set(result.outputs) and all(t >= 0 for t in result.timings.values())


def test_the_returned_flow_carries_plain_json_trained_parameters_and_the_input_is_untouched() -> None:
    original = copy.deepcopy(DAG)
    result = run_flow(DAG, SOURCES, refit=True)
    assert DAG == original
    steps = {s["id"]: s for s in result.flow["steps"]}
    assert steps["imputed"]["trained_parameters"] == {"values": {"amount": 31.25}}
    assert all(steps[s]["trained_parameters"] is None for s in ("joined", "all_rows", "by_country", "big"))
    text = json.dumps(result.flow, allow_nan=False)
    assert json.loads(text) == result.flow


def test_until_runs_only_what_the_step_needs() -> None:
    result = run_flow(DAG, {"orders": orders(), "customers": customers()}, refit=True, until="joined")
    assert set(result.outputs) == {"imputed", "joined"}
    assert result.output is result.outputs["joined"]
    with pytest.raises(FlowError, match="no step 'nope'"):
        run_flow(DAG, SOURCES, refit=True, until="nope")


def test_keep_final_frees_intermediate_outputs() -> None:
    result = run_flow(DAG, SOURCES, refit=True, keep="final")
    assert set(result.outputs) == {"by_country", "big"}
    result = run_flow(DAG, SOURCES, refit=True, until="all_rows", keep="final")
    assert set(result.outputs) == {"all_rows"}


def test_a_self_join_and_a_step_feeding_several_steps() -> None:
    flow = make_flow(
        step("pairs", "join", ["customers", "customers"], how="inner", on=["country"]),
        step(
            "count",
            "group_by_aggregate",
            ["pairs"],
            keys=["country"],
            aggregations=[{"column": "customer_left", "func": "size", "as": "n"}],
        ),
    )
    result = run_flow(flow, SOURCES, refit=False)
    assert result.output.to_dict("list") == {"country": ["DE", "FR"], "n": [1, 4]}


def test_missing_source_data_and_bad_documents_are_flow_errors() -> None:
    with pytest.raises(FlowError, match="No data given for source\\(s\\) 'customers'"):
        run_flow(DAG, {"orders": orders()}, refit=True)
    with pytest.raises(FlowError, match="Unsupported flow format 2"):
        run_flow({**DAG, "format": 2}, SOURCES, refit=True)
    with pytest.raises(FlowError, match="Source id 'a' is used twice"):
        run_flow({"format": 1, "sources": [{"id": "a"}, {"id": "a"}], "steps": []}, {}, refit=True)


@pytest.mark.parametrize(
    ("bad_step", "fragment"),
    [
        (step("x", "no_such_op", ["orders"]), "Unknown operator 'no_such_op'"),
        ({**step("x", "drop_columns", ["orders"], columns=["amount"]), "op_version": 9}, "has no version 9"),
        (step("x", "drop_columns", ["later"], columns=["amount"]), "'later' are not sources or earlier steps"),
        (step("x", "drop_columns", [], columns=["amount"]), "'inputs' must be a non-empty list"),
        (step("orders", "drop_columns", ["orders"], columns=["amount"]), "already used"),
        (step("x", "join", ["orders"], on=["customer"]), "takes 2 input(s), got 1"),
        (step("x", "drop_columns", ["orders", "customers"], columns=["amount"]), "takes 1 input(s), got 2"),
        (step("x", "drop_columns", ["orders"], columns=["nope"]), "column 'nope' not found"),
        (step("x", "drop_columns", ["orders"], columns="amount"), "'columns' must be a list of column names"),
        (step("x", "sample_rows", ["orders"], n=3, seed="abc"), "Parameter 'seed' must be an integer"),
        (step("x", "filter_rows", ["orders"], expression="amount.__class__"), "Attribute access is not allowed"),
        (step("x", "filter_rows", ["orders"], expression="amount * 2"), "must give true/false values"),
        (
            step("x", "cast_columns", ["customers"], columns=["country"], to="integer", errors="fail"),
            "3 value(s) cannot be converted to integer",
        ),
        (step("x", "sql", ["orders"], query="DELETE FROM df"), "Only SELECT queries"),
        (step("x", "sql", ["orders"], query="SELECT * FROM nowhere"), "nowhere does not exist"),
    ],
)
def test_a_broken_step_raises_step_error_naming_the_step(bad_step: dict[str, Any], fragment: str) -> None:
    flow = make_flow(step("ok", "head_rows", ["orders"], n=5), {**bad_step, "label": "my broken step"})
    with pytest.raises(StepError) as caught:
        run_flow(flow, SOURCES, refit=True)
    error = caught.value
    assert error.step_id == bad_step["id"] and error.op == bad_step["op"]
    assert error.message.startswith(f"Step {bad_step['id']!r}")
    assert fragment in error.message, error.message
    assert str(error) == error.message


def test_step_error_details_name_the_column_and_the_available_ones() -> None:
    flow = make_flow(step("s1", "standard_scale", ["customers"], columns=["customer", "revenue"]))
    with pytest.raises(StepError) as caught:
        run_flow(flow, SOURCES, refit=True)
    error = caught.value
    assert error.message == (
        "Step 's1' (Standard scaler): Parameter 'columns': column 'revenue' not found. "
        "Available columns: 'customer', 'country'."
    )
    assert error.details == {
        "step_id": "s1",
        "op": "standard_scale",
        "param": "columns",
        "columns": ["revenue"],
        "available": ["customer", "country"],
    }


def test_validate_flow_checks_parameters_without_data() -> None:
    assert [s.id for s in validate_flow(DAG).steps] == ["imputed", "joined", "all_rows", "by_country", "big"]
    with pytest.raises(StepError, match="Step 'x' \\(Sample rows\\): Parameter 'n' must be at least 0"):
        validate_flow(make_flow(step("x", "sample_rows", ["orders"], n=-1)))


# --------------------------------------------------------------------------------------------
# Stateful steps: fit on what the executor sees, reuse or refit as asked
# --------------------------------------------------------------------------------------------

SCALE = make_flow(
    step("scaled", "minmax_scale", ["orders"], columns=["amount"]),
    step("clipped", "outliers_minmax", ["scaled"], columns=["amount"], max=0.5),
)


def test_refit_true_fits_on_the_data_given() -> None:
    result = run_flow(SCALE, SOURCES, refit=True)
    assert result.flow["steps"][0]["trained_parameters"] == {"stats": {"amount": [5.0, 55.0, 0.0]}}
    np.testing.assert_allclose(result.outputs["scaled"]["amount"], [15 / 55, np.nan, 35 / 55, 1.0, 0.0])
    assert result.output["amount"].max() == 0.5


def test_refit_false_reuses_stored_parameters_and_fits_only_missing_ones() -> None:
    fitted = run_flow(SCALE, SOURCES, refit=True).flow
    new_orders = pd.DataFrame({"order_id": [1, 2], "customer": [1, 1], "amount": [115.0, 5.0]})
    reused = run_flow(fitted, {"orders": new_orders}, refit=False)
    assert reused.outputs["scaled"]["amount"].tolist() == [2.0, 0.0]  # scaled with the old min/max
    assert reused.flow["steps"][0]["trained_parameters"] == fitted["steps"][0]["trained_parameters"]
    refitted = run_flow(fitted, {"orders": new_orders}, refit=True)
    assert refitted.outputs["scaled"]["amount"].tolist() == [1.0, 0.0]
    assert refitted.flow["steps"][0]["trained_parameters"] == {"stats": {"amount": [5.0, 110.0, 0.0]}}
    unfitted = run_flow(SCALE, {"orders": new_orders}, refit=False)
    assert unfitted.flow["steps"][0]["trained_parameters"] == {"stats": {"amount": [5.0, 110.0, 0.0]}}


def test_preview_fits_on_the_sample_and_a_full_run_refits() -> None:
    big = pd.DataFrame({"order_id": range(1000), "customer": 1, "amount": np.arange(1000.0)})
    preview = preview_step(SCALE, {"orders": big}, "scaled", rows=100)
    assert len(preview.output) == 100 and set(preview.outputs) == {"scaled"}
    assert preview.flow["steps"][0]["trained_parameters"] == {"stats": {"amount": [0.0, 99.0, 0.0]}}
    full = run_flow(preview.flow, {"orders": big}, refit=True)
    assert full.flow["steps"][0]["trained_parameters"] == {"stats": {"amount": [0.0, 999.0, 0.0]}}
    stale = run_flow(preview.flow, {"orders": big}, refit=False)
    assert stale.outputs["scaled"]["amount"].iloc[-1] == pytest.approx(999 / 99)


def test_preview_random_sample_is_reproducible_and_keeps_row_order() -> None:
    big = pd.DataFrame({"order_id": range(1000), "customer": 1, "amount": np.arange(1000.0)})
    first = preview_step(SCALE, {"orders": big}, "clipped", rows=50, method="random", seed=3)
    again = preview_step(SCALE, {"orders": big}, "clipped", rows=50, method="random", seed=3)
    pd.testing.assert_frame_equal(first.output, again.output)
    ids = first.outputs["clipped"]["order_id"].tolist()
    assert len(ids) == 50 and ids == sorted(ids) and ids != list(range(50))


def test_sources_with_a_custom_index_are_used_positionally() -> None:
    shuffled = orders().set_index(pd.Index([5, 3, 1, 9, 7]))
    result = run_flow(
        make_flow(step("f", "forward_fill", ["orders"], columns=["amount"])), {"orders": shuffled}, refit=True
    )
    assert result.output.index.tolist() == [0, 1, 2, 3, 4]
    assert result.output["amount"].tolist() == [20.0, 20.0, 40.0, 60.0, 5.0]


def test_preview_of_a_multi_step_flow_on_fifty_thousand_rows_is_fast() -> None:
    import time

    rng = np.random.default_rng(0)
    n = 60_000
    data = pd.DataFrame(
        {
            "order_id": np.arange(n),
            "customer": rng.integers(1, 4, n),
            "amount": rng.normal(50, 10, n),
            "note": rng.choice(["fast delivery", "late", "broken box", None], n),
        }
    )
    flow = make_flow(
        step("imputed", "impute_missing", ["orders"], columns=["amount"]),
        step("joined", "join", ["imputed", "customers"], how="left", on=["customer"]),
        step("onehot", "one_hot_encode", ["joined"], columns=["country"]),
        step("tfidf", "tfidf", ["onehot"], column="note", max_features=5),
        step("scaled", "standard_scale", ["tfidf"], columns=["amount"]),
        step("kept", "filter_rows", ["scaled"], expression="amount > -1 and contains(fillna(note, ''), 'a')"),
    )
    started = time.perf_counter()
    result = preview_step(flow, {"orders": data, "customers": customers()}, "kept")
    elapsed = time.perf_counter() - started
    assert len(result.outputs["kept"]) > 0 and len(result.outputs["imputed"]) == 50_000
    assert elapsed < 5.0, result.timings
