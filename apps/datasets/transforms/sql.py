"""SQL step: one read-only DuckDB query over the step's inputs.

A single input is the table ``df`` (and also its input id); several inputs are tables named by their
input ids. The connection is hardened: no file, network or extension access
(``enable_external_access=false``), no Python-variable scans, configuration locked, and only one
SELECT (or WITH ... SELECT) statement is accepted.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .base import MultiInputOperator, Param, ParameterError, Params, Snippet, Trained, register, script_function

MAX_QUERY = 20_000


@script_function()
def sql_connection():  # type: ignore[no-untyped-def]
    """An in-memory DuckDB connection that cannot touch files, the network, extensions or Python variables."""
    import duckdb

    return duckdb.connect(":memory:", config={
        "enable_external_access": False,
        "python_enable_replacements": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "lock_configuration": True,
    })


@script_function()
def check_sql(connection, query: str) -> None:  # type: ignore[no-untyped-def]
    """Accept exactly one read-only SELECT / WITH statement."""
    import duckdb

    statements = connection.extract_statements(query)
    if len(statements) != 1:
        raise ValueError(f"The SQL step takes exactly one statement (a SELECT query), found {len(statements)}")
    if statements[0].type != duckdb.StatementType.SELECT:
        kind = str(statements[0].type).rsplit(".", 1)[-1]
        raise ValueError(f"Only SELECT queries (optionally starting with WITH) are allowed, not {kind} statements")


@script_function(sql_connection, check_sql)
def run_sql(tables: dict[str, pd.DataFrame], query: str) -> pd.DataFrame:
    connection = sql_connection()
    try:
        check_sql(connection, query)
        for name, frame in tables.items():
            connection.register(name, frame)
        return connection.execute(query).df()
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
        connection = sql_connection()
        try:
            check_sql(connection, query)
        except (ValueError, duckdb.Error) as exc:
            raise ParameterError(f"Parameter 'query': {exc}", param="query") from exc
        finally:
            connection.close()

    def apply_validated(
        self, inputs: Sequence[pd.DataFrame], params: Params, trained: Trained | None,
        names: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        ids = list(names) if names is not None else [f"input{i + 1}" for i in range(len(inputs))]
        frames = [inputs[0], *inputs] if len(inputs) == 1 else list(inputs)
        return run_sql(dict(zip(table_names(ids), frames, strict=True)), params["query"])

    def code(self, params: Params, trained_ref: str | None, input_vars: Sequence[str], input_ids: Sequence[str],
             output_var: str) -> Snippet:
        variables = [input_vars[0], *input_vars] if len(input_vars) == 1 else list(input_vars)
        tables = ", ".join(f"{name!r}: {var}" for name, var in zip(table_names(input_ids), variables, strict=True))
        return Snippet(lines=[f"{output_var} = run_sql({{{tables}}}, {params['query']!r})"], functions=[run_sql])
