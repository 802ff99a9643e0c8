"""SQL over data: DuckDB over the project's dataset versions (the SQL editor), and read-only queries against
admin-configured databases (DataConnection imports).

DuckDB sandbox: an in-memory connection with `enable_external_access=false` (no files, network or extensions),
no replacement scans of Python variables, bounded memory and threads, configuration locked; the dataset versions
are registered as Arrow datasets (scanned lazily, never loaded whole); exactly one SELECT / WITH statement.

External databases: one SELECT / WITH statement (checked on a token stream with literals, quoted names and
comments removed), executed on a connection opened read-only where the driver allows it (SQLite `mode=ro`,
PostgreSQL `default_transaction_read_only`), inside a transaction that is rolled back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

MAX_QUERY_CHARS = 20_000
PREVIEW_ROWS = 1000
PREVIEW_TIMEOUT_S = 15.0


class SqlError(ValueError):
    """A query we refuse or that failed, with a message for a person."""

    def __init__(self, message: str, field: str = "query") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --- table names for the editor ---------------------------------------------------------------------------


def table_identifier(name: str) -> str:
    """A dataset name as a SQL identifier: `Q1 sales (EU)` -> `q1_sales_eu`."""
    ident = re.sub(r"[^0-9a-zA-Z_]+", "_", name).strip("_").lower() or "dataset"
    if ident[0].isdigit():
        ident = f"t_{ident}"
    return ident


_IDENT = re.compile(r'"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_]*)')


def _strip_literals(query: str) -> str:
    """The query with string literals and comments blanked (quoted identifiers kept)."""
    out: list[str] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch == "'":
            j = i + 1
            while j < n:
                if query[j] == "'" and j + 1 < n and query[j + 1] == "'":
                    j += 2
                    continue
                if query[j] == "'":
                    break
                j += 1
            out.append("''")
            i = j + 1
        elif query.startswith("--", i):
            j = query.find("\n", i)
            i = n if j < 0 else j
            out.append(" ")
        elif query.startswith("/*", i):
            j = query.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def referenced_names(query: str) -> set[str]:
    """Identifiers (lower-cased) that appear in the query outside literals and comments."""
    names = set()
    for match in _IDENT.finditer(_strip_literals(query)):
        names.add((match.group(1) or match.group(2)).replace('""', '"').lower())
    return names


# --- DuckDB sandbox ------------------------------------------------------------------------------------------


def duckdb_connection(memory_limit: str = "1GB", threads: int = 2):  # type: ignore[no-untyped-def]
    """An in-memory DuckDB connection that cannot touch files, the network, extensions or Python variables, with
    bounded memory and threads and its configuration locked. The SQL page and the flows' SQL step both use it
    (and exported flow scripts carry a copy, so it uses nothing but the standard library and duckdb)."""
    import os
    import tempfile

    import duckdb

    spill = os.path.join(tempfile.gettempdir(), "atelier-duckdb")  # not `.tmp` in the server's working directory
    os.makedirs(spill, mode=0o700, exist_ok=True)

    return duckdb.connect(
        ":memory:",
        config={
            "enable_external_access": False,
            "python_enable_replacements": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "memory_limit": memory_limit,
            "temp_directory": spill,
            "threads": threads,
            "lock_configuration": True,
        },
    )


def check_select(connection, query: str) -> None:  # type: ignore[no-untyped-def]
    """Exactly one SELECT (or WITH ... SELECT) statement, or ValueError saying what is wrong."""
    import duckdb

    try:
        statements = connection.extract_statements(query)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"The query cannot be parsed: {first}") from exc
    if len(statements) != 1:
        raise ValueError(f"Only one statement is allowed (a SELECT query); found {len(statements)}.")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        name = str(kind).rsplit(".", 1)[-1]
        raise ValueError(f"Only SELECT queries (optionally starting with WITH) are allowed, not {name} statements.")


def interrupt_after(connection, seconds):  # type: ignore[no-untyped-def]
    """A watchdog: interrupts the connection's running query after `seconds` (DuckDB has no statement timeout).
    Returns the timer to cancel once the query is done (None without a limit)."""
    import threading

    if not seconds:
        return None
    timer = threading.Timer(seconds, connection.interrupt)
    timer.daemon = True
    timer.start()
    return timer


def check_duckdb_query(connection: Any, query: str) -> None:
    """Exactly one SELECT (or WITH ... SELECT) statement of a sane length, or SqlError naming what is wrong."""
    if not query or not query.strip():
        raise SqlError("Write a SELECT query.")
    if len(query) > MAX_QUERY_CHARS:
        raise SqlError(f"The query is too long ({len(query):,} characters; the limit is {MAX_QUERY_CHARS:,}).")
    try:
        check_select(connection, query)
    except ValueError as exc:
        raise SqlError(str(exc)) from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _duckdb_error(exc: BaseException) -> SqlError:
    import duckdb

    if isinstance(exc, duckdb.PermissionException):
        return SqlError(
            "The query tries to reach files, the network or extensions, which is not allowed here: "
            f"{_first_line(exc)} Query the dataset tables listed on the page."
        )
    if isinstance(exc, duckdb.InterruptException):
        return SqlError(f"The query took longer than {PREVIEW_TIMEOUT_S:.0f} s and was stopped.")
    return SqlError(f"The query failed: {_first_line(exc)}")


@dataclass
class SandboxResult:
    table: pa.Table
    truncated: bool
    tables_used: list[str]


class _Watchdog:
    """Interrupts a DuckDB query that runs too long (DuckDB has no statement timeout)."""

    def __init__(self, connection: Any, seconds: float | None) -> None:
        self.connection, self.seconds, self.timer = connection, seconds, None

    def __enter__(self) -> _Watchdog:
        self.timer = interrupt_after(self.connection, self.seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.timer:
            self.timer.cancel()


def _register(connection: Any, query: str, tables: Mapping[str, str]) -> list[str]:
    """Register the tables the query names (name -> local Parquet path) as lazily scanned Arrow datasets."""
    import pyarrow.dataset as ds

    used = sorted(referenced_names(query) & set(tables))
    for name in used:
        connection.register(name, ds.dataset(tables[name], format="parquet"))
    return used


def sandbox_preview(
    query: str, tables: Mapping[str, str], *, limit: int = PREVIEW_ROWS, timeout_s: float | None = PREVIEW_TIMEOUT_S
) -> SandboxResult:
    """Run `query` over `tables` (identifier -> local Parquet path) and return at most `limit` rows."""
    import duckdb

    connection = duckdb_connection()
    try:
        check_duckdb_query(connection, query)
        # The query was checked to be one SELECT; the wrapper is checked again before it runs.
        wrapped = f"SELECT * FROM (\n{query.strip().rstrip(';')}\n) AS atelier_query LIMIT {int(limit) + 1}"  # noqa: S608
        check_duckdb_query(connection, wrapped)
        used = _register(connection, query, tables)
        with _Watchdog(connection, timeout_s):
            table = connection.sql(wrapped).to_arrow_table()
    except duckdb.Error as exc:
        raise _duckdb_error(exc) from exc
    finally:
        connection.close()
    truncated = table.num_rows > limit
    return SandboxResult(table.slice(0, limit), truncated, used)


def sandbox_batches(
    query: str, tables: Mapping[str, str], *, batch_rows: int = 65_536
) -> tuple[list[str], pa.Schema, Iterator[pa.RecordBatch]]:
    """Run `query` over `tables` on the full data; yields record batches (for writing a new version)."""
    import duckdb

    connection = duckdb_connection(memory_limit="4GB")
    try:
        check_duckdb_query(connection, query)
        used = _register(connection, query, tables)
        reader = connection.sql(query).to_arrow_reader(batch_rows)
    except duckdb.Error as exc:
        connection.close()
        raise _duckdb_error(exc) from exc

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except duckdb.Error as exc:
            raise _duckdb_error(exc) from exc
        finally:
            connection.close()

    return used, reader.schema, batches()


def select_references(query: str) -> dict[str, str | None]:
    """The named items of the query's outermost SELECT: output name (lower-cased) -> the column it plainly references
    (lower-cased, without its table: `d.flag AS answer` -> `flag`), or None when the item computes a value
    (`x > 1 AS flag`). Star items and unnamed expressions are not listed; a query DuckDB cannot parse, or a set
    operation (UNION ...), gives ``{}``."""
    import json

    import duckdb

    connection = duckdb_connection(memory_limit="64MB", threads=1)
    try:
        raw = connection.execute("SELECT json_serialize_sql(?)", [query.strip().rstrip(";")]).fetchone()
        node = json.loads(raw[0])["statements"][0]["node"] if raw else {}
    except (duckdb.Error, ValueError, KeyError, IndexError, TypeError):
        return {}
    finally:
        connection.close()
    if node.get("type") != "SELECT_NODE":
        return {}
    out: dict[str, str | None] = {}
    for item in node.get("select_list") or []:
        ref = item.get("column_names") if item.get("class") == "COLUMN_REF" else None
        name = item.get("alias") or (ref[-1] if ref else "")
        if name:
            out[str(name).lower()] = str(ref[-1]).lower() if ref else None
    return out


# --- external databases --------------------------------------------------------------------------------------

# Words that cannot appear in a read-only SELECT: statements (data-modifying CTEs, SELECT INTO), and functions
# that read server files, reach other servers or change session settings. Defence in depth: the connection is
# read-only anyway.
_FORBIDDEN = {
    "insert",
    "update",
    "delete",
    "merge",
    "upsert",
    "drop",
    "create",
    "alter",
    "truncate",
    "grant",
    "revoke",
    "attach",
    "detach",
    "copy",
    "pragma",
    "vacuum",
    "call",
    "exec",
    "execute",
    "into",
    "lock",
    "reindex",
    "install",
    "load",
    "begin",
    "commit",
    "rollback",
    "savepoint",
    "prepare",
    "deallocate",
    "listen",
    "notify",
    "checkpoint",
    "discard",
    "outfile",
    "dumpfile",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "lo_import",
    "lo_export",
    "lo_get",
    "dblink",
    "dblink_exec",
    "load_extension",
    "readfile",
    "writefile",
    "set_config",
    "pg_sleep",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def check_external_query(query: str) -> str:
    """One read-only SELECT / WITH statement for an external database; returns it without a trailing `;`."""
    if not query or not query.strip():
        raise SqlError("Write a SELECT query.")
    if len(query) > MAX_QUERY_CHARS:
        raise SqlError(f"The query is too long ({len(query):,} characters; the limit is {MAX_QUERY_CHARS:,}).")
    bare = _strip_literals(query)
    bare = re.sub(r'"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]', " q ", bare)  # quoted identifiers
    body = bare.strip().rstrip(";").strip()
    if ";" in body:
        raise SqlError("Only one statement is allowed (a SELECT query); remove the ';' between statements.")
    words = [w.lower() for w in _WORD.findall(body)]
    if not words or words[0] not in ("select", "with"):
        first = words[0].upper() if words else body[:20]
        raise SqlError(f"Only SELECT queries (optionally starting with WITH) are allowed, not {first} statements.")
    bad = sorted({w for w in words if w in _FORBIDDEN})
    if bad:
        raise SqlError(
            f"The query uses {', '.join(w.upper() for w in bad)}, which is not allowed in a read-only "
            "import (only one SELECT query)."
        )
    return query.strip().rstrip(";").strip()


def mask_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as nothing useful rather than leaked
        return "(invalid URL)"


def check_connection_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise SqlError(f"Not a valid SQLAlchemy URL: {exc}", "url") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise SqlError("A SQLite connection needs a database file path.", "url")


def read_only_engine(url: str, *, statement_timeout_s: int = 600):  # type: ignore[no-untyped-def]
    """A SQLAlchemy engine whose connections refuse writes where the driver allows it."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        import sqlite3

        path = parsed.database or ""
        uri = f"file:{path}?mode=ro"

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            return conn

        return create_engine("sqlite://", creator=connect, poolclass=NullPool)
    connect_args: dict[str, Any] = {}
    if backend == "postgresql":
        connect_args["options"] = (
            f"-c default_transaction_read_only=on -c statement_timeout={int(statement_timeout_s) * 1000}"
        )
    engine = create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
    if backend == "mysql":

        @event.listens_for(engine, "connect")
        def _read_only(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.close()

    return engine


def external_frames(url: str, query: str, *, chunk_rows: int = 50_000, max_rows: int = 20_000_000) -> Iterator[Any]:
    """Run a checked SELECT on a read-only connection; yields pandas DataFrames of up to `chunk_rows` rows."""
    import pandas as pd
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    statement = check_external_query(query)
    engine = read_only_engine(url)
    rows = 0
    try:
        with engine.connect() as conn:
            trans = conn.begin()
            try:
                for chunk in pd.read_sql_query(text(statement), conn, chunksize=chunk_rows):
                    rows += len(chunk)
                    if rows > max_rows:
                        raise SqlError(f"The query returns more than {max_rows:,} rows (the limit).")
                    yield chunk
            finally:
                trans.rollback()
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None) or exc
        raise SqlError(f"The database refused the query: {_first_line(orig)}") from exc
    finally:
        engine.dispose()
