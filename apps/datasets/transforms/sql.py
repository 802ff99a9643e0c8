"""SQL step: one read-only DuckDB query over the step's inputs.

A single input is the table ``df`` (and also its input id); several inputs are tables named by their
input ids. The step runs in the same DuckDB sandbox as the SQL page (``apps/datasets/sql.py``): no file,
network or extension access, no Python-variable scans, bounded memory and threads, configuration locked,
only one SELECT (or WITH ... SELECT) statement, and a watchdog that interrupts a query running longer than
the limit set with ``sql_time_limit`` (previews set it; a flow job runs under the job's own limits).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from contextvars import ContextVar

import pandas as pd

from apps.datasets.sql import MAX_QUERY_CHARS, check_select, duckdb_connection, interrupt_after

from .base import MultiInputOperator, Param, ParameterError, Params, Snippet, Trained, register, script_function

MAX_QUERY = MAX_QUERY_CHARS

# The sandbox's pieces are copied into exported scripts too (they use only the standard library and duckdb).
script_function()(duckdb_connection)
script_function()(check_select)
script_function()(interrupt_after)

_deadline: ContextVar[float | None] = ContextVar("sql_step_deadline", default=None)


@contextlib.contextmanager
def sql_time_limit(seconds: float | None) -> Iterator[None]:
    """SQL steps run inside this block are interrupted once `seconds` have passed since the block began."""
    token = _deadline.set(time.monotonic() + seconds if seconds else None)
    try:
        yield
    finally:
        _deadline.reset(token)


def _time_left() -> float | None:
    deadline = _deadline.get()
    return None if deadline is None else max(0.01, deadline - time.monotonic())


@script_function(duckdb_connection, check_select, interrupt_after)
def run_sql(tables: dict[str, pd.DataFrame], query: str, timeout_s: float | None = None) -> pd.DataFrame:
    import duckdb

    connection = duckdb_connection()
    try:
        check_select(connection, query)
        for name, frame in tables.items():
            connection.register(name, frame)
        timer = interrupt_after(connection, timeout_s)
        try:
            return connection.execute(query).df()
        except duckdb.InterruptException as exc:
            raise TimeoutError(f"The SQL query took longer than {timeout_s:.1f} s and was stopped.") from exc
        finally:
            if timer is not None:
                timer.cancel()
    finally:
        connection.close()


def table_names(names: Sequence[str]) -> list[str]:
    return ["df", *names] if len(names) == 1 else list(names)


@register
class SqlQuery(MultiInputOperator):
    name = "sql"
    title = "SQL query"
    group = "Custom SQL"
    description = (
        "Run one DuckDB SELECT query. With one input the table is called df (e.g. SELECT * FROM df WHERE "
        "price > 10); with several inputs the tables are named by the input ids. Files, network and "
        "extensions are not reachable."
    )
    params = (Param("query", "string", required=True),)
    min_inputs = 1
    max_inputs = 8
    kernel = run_sql

    def check_params(self, params: Params) -> None:
        import duckdb

        query = params["query"]
        if not query.strip():
            raise ParameterError("Parameter 'query' must not be empty.", param="query")
        if len(query) > MAX_QUERY:
            raise ParameterError(f"Parameter 'query' is too long (at most {MAX_QUERY} characters).", param="query")
        connection = duckdb_connection()
        try:
            check_select(connection, query)
        except (ValueError, duckdb.Error) as exc:
            raise ParameterError(f"Parameter 'query': {exc}", param="query") from exc
        finally:
            connection.close()

    def apply_validated(
        self,
        inputs: Sequence[pd.DataFrame],
        params: Params,
        trained: Trained | None,
        names: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        ids = list(names) if names is not None else [f"input{i + 1}" for i in range(len(inputs))]
        frames = [inputs[0], *inputs] if len(inputs) == 1 else list(inputs)
        return run_sql(dict(zip(table_names(ids), frames, strict=True)), params["query"], _time_left())

    def code(
        self,
        params: Params,
        trained_ref: str | None,
        input_vars: Sequence[str],
        input_ids: Sequence[str],
        output_var: str,
    ) -> Snippet:
        variables = [input_vars[0], *input_vars] if len(input_vars) == 1 else list(input_vars)
        tables = ", ".join(f"{name!r}: {var}" for name, var in zip(table_names(input_ids), variables, strict=True))
        return Snippet(lines=[f"{output_var} = run_sql({{{tables}}}, {params['query']!r})"], functions=[run_sql])
