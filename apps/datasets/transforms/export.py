"""Export a flow as a standalone pandas script.

Each operator renders its own call (see ``Operator.code``); the functions those calls use are the
very kernels the executor runs, copied verbatim, so the script computes what the executor computes.
Fitted parameters are embedded as one JSON literal: the script never refits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from apps.core.csvio import frame_to_csv_text

from .base import FlowError, StepError, TransformError, collect_script_functions, comment, script_source
from .flow import StepDef, parse_flow, prepare_source, resolve_operator, step_error

SOURCE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")

HEADER = '''#!/usr/bin/env python3
"""Data Wrangler flow exported from Atelier.

Applies every step of the flow with the parameters fitted when the flow last ran on the full data
(nothing is refitted here). Needs pandas and numpy (and pyarrow for Parquet){extra}.

Usage:
    python {script} OUTPUT.parquet|OUTPUT.csv [--source SOURCE_ID=PATH ...]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys

import numpy as np
import pandas as pd


def user_regex(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """The flow's regular expressions. Atelier checked them and ran them with a linear-time engine (RE2) that
    follows Python's syntax and meaning; Python's re runs them here."""
    return re.compile(pattern, re.IGNORECASE if ignore_case else 0)
'''

# Names the header defines besides the imported modules; script functions may use them.
HEADER_NAMES = ("user_regex",)

MAIN = """
def read_source(path: str) -> pd.DataFrame:
    lower = path.lower()
    if lower.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    if lower.endswith((".csv", ".csv.gz")):
        return pd.read_csv(path)
    raise SystemExit(f"Unsupported source file (use .csv or .parquet): {path}")


def write_output(df: pd.DataFrame, path: str) -> None:
    if path.lower().endswith(".csv"):
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(frame_to_csv_text(df))
    else:
        df.to_parquet(path, index=False)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Run the exported Data Wrangler flow.")
    parser.add_argument("output", help="where to write the result (.parquet or .csv)")
    parser.add_argument("--source", action="append", default=[], metavar="ID=PATH",
                        help="read a source from another file")
    args = parser.parse_args(argv)
    paths = dict(SOURCE_PATHS)
    for item in args.source:
        source_id, _, path = item.partition("=")
        if source_id not in paths or not path:
            parser.error(f"--source expects ID=PATH with ID among {sorted(paths)}")
        paths[source_id] = path
    sources = {source_id: read_source(path) for source_id, path in paths.items()}
    with np.errstate(all="ignore"):
        result = run(sources)
    write_output(result, args.output)
    print(f"wrote {len(result)} rows x {len(result.columns)} columns to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
"""


def _variable_names(ids: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for item in ids:
        base = "df_" + re.sub(r"\W", "_", item, flags=re.ASCII)
        name, n = base, 2
        while name in names.values():
            name, n = f"{base}_{n}", n + 1
        names[item] = name
    return names


def _json_literal(value: dict[str, Any]) -> str:
    """The trained parameters as a JSON literal, one step per line."""
    lines = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False, allow_nan=False)}" for k, v in value.items()]
    text = "{\n" + ",\n".join(lines) + "\n}" if lines else "{}"
    if "'''" in text or text.endswith("\\"):
        return f"json.loads({text!r})"
    return f"json.loads(r'''\n{text}\n''')"


def flow_to_script(
    flow: Mapping[str, Any],
    source_paths: Mapping[str, str],
    *,
    output_step: str | None = None,
    script_name: str = "flow.py",
) -> str:
    """A standalone Python script that reads the sources, runs the flow up to ``output_step`` (default: the
    last step) with the flow's trained parameters, and writes the result to the path given on its command line.

    Raises FlowError (structure, missing source path) or StepError (unknown operator, bad parameters,
    a stateful step without trained parameters).
    """
    parsed = parse_flow(flow)
    if not parsed.steps:
        raise FlowError("The flow has no steps to export.")
    target = output_step or parsed.steps[-1].id
    parsed.step(target)
    steps = parsed.needed(target)
    used_sources = [s for s in parsed.sources if any(s in step.inputs for step in steps)]
    paths = _source_paths(used_sources, source_paths)
    variables = _variable_names([*used_sources, *(s.id for s in steps)])

    functions: list[Callable[..., Any]] = [frame_to_csv_text, prepare_source]
    body = [f"    {variables[s]} = prepare_source(sources[{s!r}])" for s in used_sources]
    trained_all: dict[str, Any] = {}
    for step in steps:
        lines, step_functions, trained = _step_code(step, variables)
        functions.extend(step_functions)
        if trained is not None:
            trained_all[step.id] = trained
        body.append("")
        body.extend(f"    {line}" for line in lines)
    body.append(f"    return {variables[target]}")

    uses_sql = any(step.op == "sql" for step in steps)
    uses_smote = any(step.op == "smote" for step in steps)
    extra = "".join([", duckdb (SQL step)" if uses_sql else "", ", scikit-learn (SMOTE step)" if uses_smote else ""])
    parts = [HEADER.format(script=script_name, extra=extra)]
    parts.append(f"SOURCE_PATHS = {json.dumps(paths, indent=4, ensure_ascii=False)}\n")
    parts.append(f"TRAINED = {_json_literal(trained_all)}\n")
    for fn in collect_script_functions(functions):
        parts.append("\n" + script_source(fn))
    parts.append("\ndef run(sources: dict[str, pd.DataFrame]) -> pd.DataFrame:\n" + "\n".join(body) + "\n")
    parts.append(MAIN)
    return "\n".join(parts)


def _source_paths(used: list[str], source_paths: Mapping[str, str]) -> dict[str, str]:
    paths = {}
    for source_id in used:
        path = source_paths.get(source_id)
        if not isinstance(path, str) or not path:
            raise FlowError(f"No file path given for source {source_id!r}.", sources=[source_id])
        if not path.lower().endswith(SOURCE_SUFFIXES):
            raise FlowError(f"Source {source_id!r}: {path!r} is not a .csv or .parquet file.", sources=[source_id])
        paths[source_id] = path
    return paths


def _step_code(step: StepDef, variables: dict[str, str]) -> tuple[list[str], list[Callable[..., Any]], Any]:
    operator = resolve_operator(step)
    try:
        params = operator.normalize(step.parameters)
    except TransformError as exc:
        raise step_error(step, operator, exc) from exc
    trained = None
    if operator.stateful:
        trained = step.trained_parameters
        if trained is None:
            raise StepError(
                step.id,
                step.op,
                f"{step.describe(operator)}: has no trained parameters; run the flow "
                "on the full data (refit) before exporting it.",
            )
    snippet = operator.code(
        params,
        f"TRAINED[{step.id!r}]" if operator.stateful else None,
        [variables[i] for i in step.inputs],
        step.inputs,
        variables[step.id],
    )
    title = f"# {step.id}: {operator.title} ({operator.key})" + (f" - {step.label}" if step.label else "")
    return [comment(title), *snippet.lines], snippet.functions, trained
