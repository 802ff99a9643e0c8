"""Data Wrangler transform engine: operators, flow executor, safe expressions, script export.

Plain Python (pandas, numpy, DuckDB, scikit-learn); no Django imports anywhere in this package.

Public API::

    list_operators() / operator_specs() / get_operator(name, version=None)
    run_flow(flow, sources, *, refit, until=None, keep="all") -> FlowResult
    preview_step(flow, sources, step_id, *, rows=50_000, method="head", seed=0) -> FlowResult
    validate_flow(flow)                      # checks that need no data
    flow_to_script(flow, source_paths, *, output_step=None) -> str
    parse_expression(text) -> Expression     # .columns, .evaluate(df), .to_code(var)
"""

from . import (  # noqa: F401 - importing the group modules registers their operators
    aggregate,
    balance,
    columns,
    datetime,
    encode,
    fairness,
    formula,
    join,
    missing,
    outliers,
    reduce,
    rows,
    scale,
    sql,
    strings,
    text,
)
from .base import (
    ExpressionError,
    FlowError,
    Operator,
    Param,
    ParameterError,
    StepError,
    TransformError,
    UnknownOperatorError,
    get_operator,
    list_operators,
    operator_specs,
)
from .export import flow_to_script
from .expressions import Expression, evaluate_expression, parse_expression
from .flow import FlowResult, parse_flow, preview_step, run_flow, sample_sources, validate_flow

__all__ = [
    "Expression",
    "ExpressionError",
    "FlowError",
    "FlowResult",
    "Operator",
    "Param",
    "ParameterError",
    "StepError",
    "TransformError",
    "UnknownOperatorError",
    "evaluate_expression",
    "flow_to_script",
    "get_operator",
    "list_operators",
    "operator_specs",
    "parse_expression",
    "parse_flow",
    "preview_step",
    "run_flow",
    "sample_sources",
    "validate_flow",
]
