"""The safe expression language of filter and custom-formula steps.

Text is parsed with :func:`ast.parse` in ``eval`` mode and every node is checked against an
explicit whitelist; nothing is ever handed to ``eval``/``exec``/``pd.eval``/``DataFrame.query``.
The validated tree is then either *interpreted* over pandas Series (vectorised, see
:meth:`Expression.evaluate`) or *emitted* as Python source for an exported script
(:meth:`Expression.to_code`). Both paths call the same ``xf_*`` runtime helpers, whose source the
exporter copies into the script, so the two cannot disagree.

Grammar (all evaluated on whole columns):

- columns: bare names (``price``), ``col("my col")``, ```my col``` or ``df["my col"]``
- literals: numbers, strings, ``True``/``False``/``None``; list literals only right of ``in``
- ``+ - * / // % **``, comparisons (chained too), ``and or not`` (also ``& | ~``),
  ``x in [..]``, ``x not in [..]``, ``a if cond else b``
- functions: see :data:`FUNCTIONS` (``expression_functions.py``)
"""

from __future__ import annotations

import ast
import functools
import operator
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .base import ExpressionError, quote_list
from .expression_functions import (
    FUNCTIONS,
    xf_and,
    xf_isin,
    xf_mod,
    xf_mul,
    xf_not,
    xf_or,
    xf_pow,
    xf_where,
)

MAX_LENGTH = 2000
MAX_NODES = 300
MAX_DEPTH = 60
MAX_EXPONENT = 100
MAX_INT_LITERAL = 2**63
MAX_ROUND_DIGITS = 15

COLUMN_FUNCTION = "col"

# Binary operators: (symbol, function used by the interpreter, helper emitted instead of infix or None)
_BINOPS: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any], Callable[..., Any] | None]] = {
    ast.Add: ("+", operator.add, None),
    ast.Sub: ("-", operator.sub, None),
    ast.Div: ("/", operator.truediv, None),
    ast.FloorDiv: ("//", operator.floordiv, None),
    ast.Mult: ("*", xf_mul, xf_mul),
    ast.Mod: ("%", xf_mod, xf_mod),
    ast.Pow: ("**", xf_pow, xf_pow),
    ast.BitAnd: ("&", xf_and, xf_and),
    ast.BitOr: ("|", xf_or, xf_or),
}
_COMPARES: dict[type[ast.cmpop], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
}
_FORBIDDEN: dict[type[ast.AST], str] = {
    ast.Attribute: "Attribute access is",
    ast.Lambda: "Lambda functions are",
    ast.ListComp: "Comprehensions are",
    ast.SetComp: "Comprehensions are",
    ast.DictComp: "Comprehensions are",
    ast.GeneratorExp: "Generator expressions are",
    ast.Dict: "Dictionary literals are",
    ast.NamedExpr: "Assignment expressions (:=) are",
    ast.JoinedStr: "f-strings are",
    ast.Starred: "Starred arguments are",
    ast.Slice: "Slices are",
    ast.Await: "'await' is",
    ast.Yield: "'yield' is",
    ast.YieldFrom: "'yield' is",
}


# --------------------------------------------------------------------------------------------
# Parsing and validation
# --------------------------------------------------------------------------------------------


def _replace_backticks(text: str) -> str:
    """Rewrite ```my col``` as ``col('my col')``; backticks inside string literals are left alone."""
    out: list[str] = []
    i, n = 0, len(text)
    quote: str | None = None
    while i < n:
        ch = text[i]
        if quote is not None:
            if ch == "\\":
                out.append(text[i : i + 2])
                i += 2
                continue
            if text.startswith(quote, i):
                out.append(quote)
                i += len(quote)
                quote = None
                continue
            out.append(ch)
            i += 1
        elif ch in "'\"":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            out.append(quote)
            i += len(quote)
        elif ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise ExpressionError("Unclosed backtick: a column name written as `name` needs a closing `.")
            name = text[i + 1 : end]
            if not name:
                raise ExpressionError("Empty column name between backticks.")
            out.append(f"{COLUMN_FUNCTION}({name!r})")
            i = end + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _column_ref(node: ast.AST) -> str | None:
    """The column a node refers to, or None when the node is not a column reference."""
    if isinstance(node, ast.Name) and node.id not in ("True", "False", "None"):
        return node.id
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == COLUMN_FUNCTION
        and len(node.args) == 1
        and not node.keywords
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id == "df"
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    ):
        return node.slice.value
    return None


def _literal(node: ast.AST) -> tuple[bool, Any]:
    """``(True, value)`` for a constant or a signed numeric constant."""
    if isinstance(node, ast.Constant):
        return True, node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, (ast.USub, ast.UAdd))
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, (int, float))
        and not isinstance(node.operand.value, bool)
    ):
        value = node.operand.value
        return True, -value if isinstance(node.op, ast.USub) else value
    return False, None


class _Validator:
    """Walks a parsed tree, rejecting everything outside the whitelist; collects column names."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.columns: list[str] = []

    def segment(self, node: ast.AST) -> str:
        text = ast.get_source_segment(self.source, node) or ast.unparse(node)
        return text if len(text) <= 80 else text[:77] + "..."

    def reject(self, what: str, node: ast.AST, hint: str = "") -> ExpressionError:
        construct = self.segment(node)
        return ExpressionError(f"{what} not allowed: {construct!r}.{hint}", construct=construct)

    def visit(self, node: ast.AST) -> None:
        column = _column_ref(node)
        if column is not None:
            if isinstance(node, ast.Name) and node.id.startswith("__"):
                raise ExpressionError(
                    f"Names starting with '__' are not allowed: {node.id!r}. "
                    f"Write col({node.id!r}) for a column with such a name.",
                    construct=node.id,
                )
            if column not in self.columns:
                self.columns.append(column)
            return
        for kind, what in _FORBIDDEN.items():
            if isinstance(node, kind):
                raise self.reject(what, node)
        handler = getattr(self, f"visit_{type(node).__name__}", None)
        if handler is None:
            raise self.reject(f"The construct {type(node).__name__} is", node)
        handler(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if value is None or isinstance(value, (bool, str, float)):
            return
        if isinstance(value, int):
            if abs(value) >= MAX_INT_LITERAL:
                raise self.reject("Integer literals this large are", node)
            return
        raise self.reject(f"Literals of type {type(value).__name__} are", node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if type(node.op) not in _BINOPS:
            raise self.reject(f"The operator {type(node.op).__name__} is", node)
        if isinstance(node.op, ast.Pow):
            ok, value = _literal(node.right)
            if ok and isinstance(value, (int, float)) and abs(value) > MAX_EXPONENT:
                raise ExpressionError(
                    f"Exponent {value!r} is too large: at most {MAX_EXPONENT} is allowed (in {self.segment(node)!r}).",
                    construct=self.segment(node),
                )
        self.visit(node.left)
        self.visit(node.right)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        self.visit(node.operand)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        for value in node.values:
            self.visit(value)

    def visit_Compare(self, node: ast.Compare) -> None:
        if len(node.ops) > 1 and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            raise self.reject("Chaining 'in' with other comparisons is", node)
        self.visit(node.left)
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.In, ast.NotIn)):
                self.check_options(right)
            elif type(op) in _COMPARES:
                self.visit(right)
            else:
                raise self.reject("'is' comparisons are", node, " Use isnull(x) or notnull(x).")

    def check_options(self, node: ast.AST) -> None:
        if not isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            raise self.reject("This right-hand side of 'in' is", node, " 'in' needs a list literal such as [1, 2].")
        for element in node.elts:
            ok, value = _literal(element)
            if not ok:
                raise self.reject("This list element is", element, " The list after 'in' holds literal values only.")
            self.visit_Constant(ast.Constant(value=value))

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.visit(node.test)
        self.visit(node.body)
        self.visit(node.orelse)

    def visit_Call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name):
            if type(node.func) in _FORBIDDEN:
                self.visit(node.func)  # names the construct, e.g. attribute access
            raise self.reject("Calling anything but a built-in function is", node)
        name = node.func.id
        if name.startswith("__"):
            raise ExpressionError(f"Names starting with '__' are not allowed: {name!r}.", construct=name)
        if name == COLUMN_FUNCTION:
            raise self.reject("This use of col() is", node, ' Write col("column name") with one text literal.')
        function = FUNCTIONS.get(name)
        if function is None:
            raise ExpressionError(
                f"Unknown function {name!r}. Allowed functions: {', '.join(sorted(FUNCTIONS))}, col.",
                construct=name,
            )
        if node.keywords:
            raise self.reject("Keyword arguments are", node)
        if not function.min_args <= len(node.args) <= function.max_args:
            raise ExpressionError(
                f"Wrong number of arguments in {self.segment(node)!r}: {function.doc}.", construct=self.segment(node)
            )
        if name == "round" and len(node.args) == 2:
            ok, digits = _literal(node.args[1])
            if not ok or not isinstance(digits, int) or isinstance(digits, bool) or abs(digits) > MAX_ROUND_DIGITS:
                hint = f" round() takes an integer literal between -{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS}."
                raise self.reject("This number of digits is", node.args[1], hint)
        for arg in node.args:
            self.visit(arg)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        raise self.reject('Subscripts (other than df["column"]) are', node)

    def visit_List(self, node: ast.List) -> None:
        raise self.reject("List literals (outside 'x in [...]') are", node)

    visit_Tuple = visit_List
    visit_Set = visit_List


def _depth(tree: ast.AST) -> int:
    deepest = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest


@functools.lru_cache(maxsize=512)
def parse_expression(text: str) -> Expression:
    """Parse and validate ``text``; raises :class:`ExpressionError` naming the offending construct."""
    if not isinstance(text, str):
        raise ExpressionError("An expression must be text.")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"Expression is too long: {len(text)} characters (at most {MAX_LENGTH}).")
    if not text.strip():
        raise ExpressionError("Expression is empty.")
    source = _replace_backticks(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"Syntax error in expression{where}: {exc.msg}.") from exc
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionError("Expression is too deeply nested.") from exc
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise ExpressionError(f"Expression is too complex: {count} syntax nodes (at most {MAX_NODES}).")
    if _depth(tree) > MAX_DEPTH:
        raise ExpressionError(f"Expression is too deeply nested (at most {MAX_DEPTH} levels).")
    validator = _Validator(source.strip())
    validator.visit(tree.body)
    return Expression(text=text, source=source.strip(), tree=tree, columns=tuple(validator.columns))


# --------------------------------------------------------------------------------------------
# Interpretation and code generation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """A validated expression. Build it with :func:`parse_expression`."""

    text: str
    source: str
    tree: ast.Expression
    columns: tuple[str, ...]

    def check_columns(self, available: Sequence[str]) -> None:
        missing = [c for c in self.columns if c not in available]
        if missing:
            noun = "column" if len(missing) == 1 else "columns"
            raise ExpressionError(
                f"Unknown {noun} {quote_list(missing)} in expression. Available columns: {quote_list(available)}.",
                construct=missing[0],
            )

    def evaluate(self, df: pd.DataFrame) -> Any:
        """Evaluate over ``df``: a Series aligned with ``df`` or a scalar."""
        self.check_columns([str(c) for c in df.columns])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return _Interpreter(df, self.source).visit(self.tree.body)

    def to_code(self, df_var: str) -> tuple[str, list[Callable[..., Any]]]:
        """Python source computing this expression from the frame in ``df_var``, and the helpers it calls."""
        emitter = _Emitter(df_var)
        return emitter.visit(self.tree.body), list(emitter.helpers.values())


def evaluate_expression(text: str, df: pd.DataFrame) -> Any:
    return parse_expression(text).evaluate(df)


class _Interpreter:
    def __init__(self, df: pd.DataFrame, source: str) -> None:
        self.df = df
        self.source = source

    def visit(self, node: ast.AST) -> Any:
        column = _column_ref(node)
        if column is not None:
            return self.df[column]
        return getattr(self, f"visit_{type(node).__name__}")(node)

    def guarded(self, node: ast.AST, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError, KeyError) as exc:
            construct = ast.get_source_segment(self.source, node) or ast.unparse(node)
            raise ExpressionError(f"Cannot evaluate {construct!r}: {exc}", construct=construct) from exc

    def visit_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        fn = _BINOPS[type(node.op)][1]
        return self.guarded(node, fn, self.visit(node.left), self.visit(node.right))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        unary: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
        return self.guarded(node, unary.get(type(node.op), xf_not), self.visit(node.operand))

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        fn = xf_and if isinstance(node.op, ast.And) else xf_or
        result = self.visit(node.values[0])
        for value in node.values[1:]:
            result = self.guarded(node, fn, result, self.visit(value))
        return result

    def visit_Compare(self, node: ast.Compare) -> Any:
        left = self.visit(node.left)
        result: Any = None
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.In, ast.NotIn)):
                options = [_literal(e)[1] for e in right_node.elts]  # type: ignore[attr-defined]
                right: Any = None
                piece = self.guarded(node, xf_isin, left, options, isinstance(op, ast.NotIn))
            else:
                right = self.visit(right_node)
                piece = self.guarded(node, _COMPARES[type(op)][1], left, right)
            result = piece if result is None else self.guarded(node, xf_and, result, piece)
            left = right
        return result

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        return self.guarded(node, xf_where, self.visit(node.test), self.visit(node.body), self.visit(node.orelse))

    def visit_Call(self, node: ast.Call) -> Any:
        function = FUNCTIONS[node.func.id]  # type: ignore[attr-defined]
        return self.guarded(node, function.helper, *[self.visit(arg) for arg in node.args])


class _Emitter:
    def __init__(self, df_var: str) -> None:
        self.df_var = df_var
        self.helpers: dict[str, Callable[..., Any]] = {}

    def helper(self, fn: Callable[..., Any]) -> str:
        self.helpers[fn.__name__] = fn
        return fn.__name__

    def visit(self, node: ast.AST) -> str:
        column = _column_ref(node)
        if column is not None:
            return f"{self.df_var}[{column!r}]"
        return str(getattr(self, f"visit_{type(node).__name__}")(node))

    def visit_Constant(self, node: ast.Constant) -> str:
        return repr(node.value)

    def visit_BinOp(self, node: ast.BinOp) -> str:
        symbol, _, helper = _BINOPS[type(node.op)]
        left, right = self.visit(node.left), self.visit(node.right)
        if helper is not None:
            return f"{self.helper(helper)}({left}, {right})"
        return f"({left} {symbol} {right})"

    def visit_UnaryOp(self, node: ast.UnaryOp) -> str:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return f"(-{operand})"
        if isinstance(node.op, ast.UAdd):
            return f"(+{operand})"
        return f"{self.helper(xf_not)}({operand})"

    def visit_BoolOp(self, node: ast.BoolOp) -> str:
        name = self.helper(xf_and if isinstance(node.op, ast.And) else xf_or)
        result = self.visit(node.values[0])
        for value in node.values[1:]:
            result = f"{name}({result}, {self.visit(value)})"
        return result

    def visit_Compare(self, node: ast.Compare) -> str:
        left = self.visit(node.left)
        result: str | None = None
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.In, ast.NotIn)):
                options = [_literal(e)[1] for e in right_node.elts]  # type: ignore[attr-defined]
                piece = f"{self.helper(xf_isin)}({left}, {options!r}, {isinstance(op, ast.NotIn)})"
                right = ""
            else:
                right = self.visit(right_node)
                piece = f"({left} {_COMPARES[type(op)][0]} {right})"
            result = piece if result is None else f"{self.helper(xf_and)}({result}, {piece})"
            left = right
        return str(result)

    def visit_IfExp(self, node: ast.IfExp) -> str:
        parts = ", ".join(self.visit(n) for n in (node.test, node.body, node.orelse))
        return f"{self.helper(xf_where)}({parts})"

    def visit_Call(self, node: ast.Call) -> str:
        function = FUNCTIONS[node.func.id]  # type: ignore[attr-defined]
        args = ", ".join(self.visit(arg) for arg in node.args)
        return f"{self.helper(function.helper)}({args})"
