"""Exported scripts reproduce the executor: run in a subprocess, their Parquet output equals run_flow's."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from apps.datasets.transforms import FlowError, StepError, flow_to_script, run_flow
from tests.datasets.data import EXAMPLES, base_frame, other_frame

DRIVER = """
import runpy, sys, traceback
jobs = [line.split("\\t") for line in open(sys.argv[1]).read().splitlines()]
failed = 0
for script, *argv in jobs:
    sys.argv = [script, *argv]
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (0, None):
            failed += 1
            print("EXIT", script, exc.code, file=sys.stderr)
    except Exception:
        failed += 1
        print("FAILED", script, file=sys.stderr)
        traceback.print_exc()
sys.exit(1 if failed else 0)
"""


def write_sources(directory: Path) -> dict[str, str]:
    paths = {"base": str(directory / "base.parquet"), "other": str(directory / "other.csv")}
    base_frame().to_parquet(paths["base"], index=False)
    other_frame().to_csv(paths["other"], index=False)
    return paths


def read_sources(paths: dict[str, str]) -> dict[str, pd.DataFrame]:
    return {"base": pd.read_parquet(paths["base"]), "other": pd.read_csv(paths["other"])}


def flow_of(*steps: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": 1,
        "sources": [
            {"id": "base", "name": "Base", "dataset_version": 3},
            {"id": "other", "name": "Other", "dataset_version": None},
        ],
        "steps": [{"op_version": 1, "trained_parameters": None, **s} for s in steps],
    }


MANY_KINDS = flow_of(
    {"id": "typed", "op": "cast_columns", "inputs": ["base"], "parameters": {"columns": ["qty"], "to": "float"}},
    {
        "id": "filled",
        "op": "impute_missing",
        "inputs": ["typed"],
        "parameters": {"columns": ["price"], "strategy": "median"},
    },
    {"id": "places", "op": "rename_columns", "inputs": ["other"], "parameters": {"mapping": {"city": "place"}}},
    {"id": "joined", "op": "join", "inputs": ["filled", "places"], "parameters": {"how": "left", "on": ["id"]}},
    {"id": "stacked", "op": "concatenate", "inputs": ["joined", "other"], "parameters": {"source_column": "src"}},
    {
        "id": "kept",
        "op": "filter_rows",
        "inputs": ["stacked"],
        "parameters": {"expression": "src == 'joined' and (price < 100 or `label` in ['yes'])"},
    },
    {
        "id": "total",
        "op": "custom_formula",
        "inputs": ["kept"],
        "parameters": {"new_column": "total", "expression": "round(price * qty, 1) if notnull(score) else -1"},
    },
    {"id": "clipped", "op": "outliers_robust_std", "inputs": ["total"], "parameters": {"columns": ["price"]}},
    {
        "id": "cities",
        "op": "group_rare_categories",
        "inputs": ["clipped"],
        "parameters": {"columns": ["city"], "min_count": 2},
    },
    {"id": "onehot", "op": "one_hot_encode", "inputs": ["cities"], "parameters": {"columns": ["city"]}},
    {"id": "words", "op": "tfidf", "inputs": ["onehot"], "parameters": {"column": "review", "max_features": 3}},
    {
        "id": "parts",
        "op": "extract_datetime_parts",
        "inputs": ["words"],
        "parameters": {"column": "when", "parts": ["month", "is_weekend"]},
    },
    {"id": "codes", "op": "split_column", "inputs": ["parts"], "parameters": {"column": "code", "delimiter": "-"}},
    {"id": "scaled", "op": "standard_scale", "inputs": ["codes"], "parameters": {"columns": ["qty", "total"]}},
    {
        "id": "pca",
        "op": "pca",
        "inputs": ["scaled"],
        "parameters": {"columns": ["qty", "total", "price"], "n_components": 2, "drop_original": False},
    },
    {
        "id": "sql",
        "op": "sql",
        "inputs": ["pca"],
        "parameters": {"query": "SELECT * EXCLUDE (ended) FROM df ORDER BY id DESC"},
    },
    {"id": "balanced", "op": "random_oversample", "inputs": ["sql"], "parameters": {"target": "label", "seed": 5}},
    {
        "id": "final",
        "op": "drop_columns",
        "inputs": ["balanced"],
        "parameters": {"columns": ["src"]},
        "label": "tidy up",
    },
)


def example_flow(name: str, params: dict[str, Any], inputs: tuple[str, ...]) -> dict[str, Any]:
    return flow_of({"id": "step", "op": name, "inputs": list(inputs), "parameters": params})


def run_scripts(directory: Path, jobs: list[list[str]]) -> None:
    (directory / "driver.py").write_text(DRIVER)
    (directory / "jobs.tsv").write_text("\n".join("\t".join(job) for job in jobs))
    completed = subprocess.run(
        [sys.executable, str(directory / "driver.py"), str(directory / "jobs.tsv")],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=240,
        env={"PATH": "/usr/bin:/bin", "HOME": str(directory)},
    )
    assert completed.returncode == 0, completed.stderr[-6000:]


def assert_same_parquet(expected: pd.DataFrame, produced: Path, directory: Path, name: str) -> None:
    reference = directory / f"{name}.expected.parquet"
    expected.to_parquet(reference, index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(produced), pd.read_parquet(reference), check_dtype=True)


def test_exported_scripts_reproduce_the_executor_for_every_operator_and_a_many_step_flow(tmp_path: Path) -> None:
    paths = write_sources(tmp_path)
    flows = {name: example_flow(name, params, inputs) for name, params, inputs in EXAMPLES}
    flows["many_kinds"] = MANY_KINDS
    expected: dict[str, pd.DataFrame] = {}
    jobs = []
    for name, flow in flows.items():
        result = run_flow(flow, read_sources(paths), refit=True)
        expected[name] = result.output
        script = tmp_path / f"{name}.py"
        script.write_text(flow_to_script(result.flow, paths, script_name=script.name))
        jobs.append([str(script), str(tmp_path / f"{name}.out.parquet")])
    jobs.append([str(tmp_path / "many_kinds.py"), str(tmp_path / "many_kinds.out.csv")])
    run_scripts(tmp_path, jobs)

    assert len(expected["many_kinds"]) >= 8 and "pc_2" in expected["many_kinds"].columns
    for name in flows:
        assert_same_parquet(expected[name], tmp_path / f"{name}.out.parquet", tmp_path, name)
    as_csv = pd.read_csv(tmp_path / "many_kinds.out.csv")
    assert as_csv["id"].tolist() == expected["many_kinds"]["id"].tolist()


def test_script_reads_another_source_file_given_on_the_command_line(tmp_path: Path) -> None:
    paths = write_sources(tmp_path)
    flow = flow_of({"id": "s", "op": "standard_scale", "inputs": ["base"], "parameters": {"columns": ["qty"]}})
    fitted = run_flow(flow, read_sources(paths), refit=True)
    (tmp_path / "flow.py").write_text(flow_to_script(fitted.flow, paths))
    other_data = base_frame().assign(qty=[10, 20, 30, 40, 50, 60, 70, 80])
    other_data.to_parquet(tmp_path / "new.parquet", index=False)
    run_scripts(
        tmp_path,
        [[str(tmp_path / "flow.py"), str(tmp_path / "out.parquet"), "--source", f"base={tmp_path / 'new.parquet'}"]],
    )
    expected = run_flow(fitted.flow, {"base": pd.read_parquet(tmp_path / "new.parquet")}, refit=False).output
    produced = pd.read_parquet(tmp_path / "out.parquet")
    pd.testing.assert_frame_equal(produced, expected)
    assert produced["qty"].tolist()[0] == pytest.approx((10 - 4.5) / 2.29128784747792)  # trained on 1..8


def test_script_embeds_the_trained_parameters_and_needs_no_project_code(tmp_path: Path) -> None:
    paths = write_sources(tmp_path)
    result = run_flow(MANY_KINDS, read_sources(paths), refit=True)
    script = flow_to_script(result.flow, paths)
    assert "apps." not in script and "django" not in script.lower()
    assert script.count("import duckdb") == 3  # inside the SQL helper functions only
    (tmp_path / "flow.py").write_text(script)
    namespace = runpy.run_path(str(tmp_path / "flow.py"), run_name="exported")
    trained = {s["id"]: s["trained_parameters"] for s in result.flow["steps"] if s["trained_parameters"] is not None}
    assert namespace["TRAINED"] == trained
    assert set(trained) == {"filled", "clipped", "cities", "onehot", "words", "scaled", "pca"}
    assert namespace["SOURCE_PATHS"] == paths
    compile(script, "flow.py", "exec")


def test_scripts_without_sql_or_smote_import_only_pandas_and_numpy(tmp_path: Path) -> None:
    paths = write_sources(tmp_path)
    flow = flow_of({"id": "s", "op": "filter_rows", "inputs": ["base"], "parameters": {"expression": "qty > 2"}})
    script = flow_to_script(run_flow(flow, read_sources(paths), refit=True).flow, paths)
    imports = {line.split()[1] for line in script.splitlines() if line.startswith(("import ", "from "))}
    assert imports == {"__future__", "argparse", "json", "math", "re", "sys", "numpy", "pandas"}
    assert "duckdb" not in script and "sklearn" not in script


def test_output_step_exports_only_what_that_step_needs(tmp_path: Path) -> None:
    paths = write_sources(tmp_path)
    fitted = run_flow(MANY_KINDS, read_sources(paths), refit=True).flow
    script = flow_to_script(fitted, {"base": paths["base"], "other": paths["other"]}, output_step="filled")
    assert "df_filled = impute_missing(" in script and "join_frames" not in script
    assert "return df_filled" in script
    assert json.loads(json.dumps(fitted)) == fitted


def test_export_errors(tmp_path: Path) -> None:
    paths = write_sources(tmp_path)
    unfitted = flow_of(
        {"id": "s", "op": "minmax_scale", "inputs": ["base"], "parameters": {"columns": ["qty"]}, "label": "scale it"}
    )
    with pytest.raises(StepError, match="Step 's' \\(scale it, Min-max scaler\\): has no trained parameters"):
        flow_to_script(unfitted, paths)
    stateless = flow_of({"id": "s", "op": "head_rows", "inputs": ["base"], "parameters": {"n": 2}})
    with pytest.raises(FlowError, match="No file path given for source 'base'"):
        flow_to_script(stateless, {"other": paths["other"]})
    with pytest.raises(FlowError, match=r"is not a \.csv or \.parquet file"):
        flow_to_script(stateless, {"base": "/data/base.xlsx"})
    with pytest.raises(StepError, match="Parameter 'n' must be an integer"):
        flow_to_script(flow_of({"id": "s", "op": "head_rows", "inputs": ["base"], "parameters": {"n": "x"}}), paths)
    with pytest.raises(FlowError, match="no steps"):
        flow_to_script(flow_of(), paths)


def test_user_text_cannot_break_out_of_comments_or_literals(tmp_path: Path) -> None:
    paths = write_sources(tmp_path)
    sneaky = "qty > 2\nimport os\nos.system('echo pwned')"
    flow = flow_of(
        {
            "id": "s\nimport os",
            "op": "custom_formula",
            "inputs": ["base"],
            "parameters": {"new_column": "x'\nimport os", "expression": "1 if qty > 2 else 0"},
            "label": "label\r\nos.system('x')",
        },
        {
            "id": "t",
            "op": "replace_regex",
            "inputs": ["s\nimport os"],
            "parameters": {"columns": ["city"], "pattern": "'''", "replacement": '"""\\n'},
        },
    )
    script = flow_to_script(run_flow(flow, read_sources(paths), refit=True).flow, paths)
    tree_lines = [line for line in script.splitlines() if line.strip().startswith(("import os", "os.system"))]
    assert not tree_lines
    with pytest.raises(Exception, match="Syntax error"):
        flow_to_script(
            flow_of({"id": "s", "op": "filter_rows", "inputs": ["base"], "parameters": {"expression": sneaky}}), paths
        )


def test_script_csv_output_reads_back_to_the_flow_result_whatever_the_cells_hold(tmp_path: Path) -> None:
    notes = ["\r=1+1", "a\rb", "c\r\nd", 'q"uote, comma', "  padded ", "", None, "-1.5", "@x", "数据"] * 6
    frame = pd.DataFrame({"note": notes, "amount": [-1.5 * i for i in range(60)]})
    frame.to_parquet(tmp_path / "hostile.parquet", index=False)
    paths = {"base": str(tmp_path / "hostile.parquet")}
    flow = flow_of({"id": "s", "op": "head_rows", "inputs": ["base"], "parameters": {"n": 1000}})
    result = run_flow(flow, {"base": frame}, refit=True)
    (tmp_path / "flow.py").write_text(flow_to_script(result.flow, paths))
    run_scripts(tmp_path, [[str(tmp_path / "flow.py"), str(tmp_path / "out.csv")]])
    back = pd.read_csv(tmp_path / "out.csv", dtype={"note": object}, keep_default_na=False, na_values=[""])
    assert len(back) == 60  # the exported script writes the exact values (no formula escaping), quoted safely
    assert back["note"].where(back["note"].notna(), None).tolist() == [None if v in ("", None) else v for v in notes]
    assert back["amount"].tolist() == frame["amount"].tolist()


def test_exported_regex_steps_use_pythons_re_and_give_the_executors_results(tmp_path: Path) -> None:
    """The executor runs user patterns with RE2 (apps/core/regex.py); the script with Python's re: same output."""
    paths = write_sources(tmp_path)
    flow = flow_of(
        {
            "id": "named",
            "op": "extract_regex",
            "inputs": ["base"],
            "parameters": {"column": "code", "pattern": r"(?P<letter>\w)-(?P<digits>\d+)"},
        },
        {
            "id": "swap",
            "op": "replace_regex",
            "inputs": ["named"],
            "parameters": {
                "columns": ["code"],
                "pattern": r"(?P<l>[a-z])-(\d+)",
                "replacement": r"\2·\g<l>\n",
                "case_sensitive": False,
            },
        },
        {
            "id": "words",
            "op": "split_column",
            "inputs": ["swap"],
            "parameters": {"column": "review", "delimiter": r"\s+", "regex": True, "max_parts": 3},
        },
        {
            "id": "unicode",
            "op": "replace_regex",
            "inputs": ["words"],
            "parameters": {"columns": ["city"], "pattern": r"(?i)^(\w)(\w*)$", "replacement": r"\2\1é"},
        },
    )
    result = run_flow(flow, read_sources(paths), refit=True)
    script = flow_to_script(result.flow, paths)
    assert "def user_regex(" in script and "re.compile(pattern" in script and "re2" not in script
    (tmp_path / "flow.py").write_text(script)
    run_scripts(tmp_path, [[str(tmp_path / "flow.py"), str(tmp_path / "out.parquet")]])
    assert_same_parquet(result.output, tmp_path / "out.parquet", tmp_path, "regex")
    assert result.output["code"].tolist()[:2] == ["1·A\n", "22·B\n"]
    assert result.output["letter"].tolist()[:2] == ["A", "B"] and result.output["review_2"].tolist()[0] == "product"
    assert result.output["city"].tolist()[:2] == ["arisPé", "yonLé"]
