"""Regular expressions that users type (flow steps and anything else), run in linear time.

Python's ``re`` backtracks: ``(a|a)*c`` against 26 ``a`` takes seconds while holding the GIL, which stalls every
thread of the process. Every user pattern goes through :func:`compile_regex` instead. It reads the pattern with
Python's own parser (so the syntax and the meaning are Python's: ``\\d`` and ``\\w`` are Unicode, ``(?x)`` works,
``\\Z`` is the end of the text), refuses the few constructs a linear-time engine cannot run, naming them, and
translates the rest into an RE2 pattern (google-re2): matching time is then linear in the text whatever the pattern.

The returned :class:`Regex` has the part of ``re.Pattern``'s interface the product uses (``search``, ``sub`` with
Python's replacement syntax, ``split``, ``groups``, ``groupindex``), so code written against it also runs with a
plain ``re.Pattern`` (the exported flow scripts do that with the same, already validated, pattern).

Known differences from Python's ``re`` for the patterns that are accepted (rare in column values):
- ``\\b`` and ``\\B`` use ASCII word characters (RE2 has no Unicode word boundary);
- ``$`` without ``(?m)`` matches only at the very end, not also before a final newline;
- after an empty match, the next match starts one character later (Python may take a longer match at the same place).
"""

from __future__ import annotations

import array
import functools
import re
import re._constants as _c
import re._parser as _parser
import sys
from collections.abc import Iterator
from typing import Any

import re2
from re2 import _re2

MAX_PATTERN = 500  # characters of a user pattern
MAX_REPEAT = 1000  # largest count in {m,n}, also for nested counts multiplied together (RE2's own limit)
MAX_MEM = 8 << 20  # bytes RE2 may use for one compiled pattern and its matching caches

_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_MEM
_OPTIONS.log_errors = False

_FLAG_FEATURES = {
    _c.GROUPREF: "a backreference such as \\1 or (?P=name)",
    _c.GROUPREF_EXISTS: "a conditional group such as (?(1)a|b)",
    _c.ATOMIC_GROUP: "an atomic group (?>...)",
    _c.POSSESSIVE_REPEAT: "a possessive quantifier such as a*+ or a++",
}
_ASSERTS = {
    (_c.ASSERT, 1): "a lookahead (?=...)",
    (_c.ASSERT_NOT, 1): "a negative lookahead (?!...)",
    (_c.ASSERT, -1): "a lookbehind (?<=...)",
    (_c.ASSERT_NOT, -1): "a negative lookbehind (?<!...)",
}


class RegexError(ValueError):
    """A user pattern (or replacement) that is invalid or not supported; the message names the parameter."""

    def __init__(self, message: str, *, param: str, feature: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.feature = feature


# --- Python's character categories, as code point ranges ---------------------------------------------------------

Ranges = list[tuple[int, int]]
_LAST = sys.maxunicode


_NEGATED = {
    _c.CATEGORY_NOT_DIGIT: _c.CATEGORY_DIGIT,
    _c.CATEGORY_NOT_SPACE: _c.CATEGORY_SPACE,
    _c.CATEGORY_NOT_WORD: _c.CATEGORY_WORD,
}


def _category_ranges(category: Any, ascii_only: bool) -> tuple[tuple[int, int], ...]:
    """The code points Python's ``\\d``, ``\\s``, ``\\w`` (or their negations) match, as sorted ranges."""
    if category in _NEGATED:
        return _complemented(_NEGATED[category], ascii_only)
    return _categories(ascii_only)[category]


@functools.cache
def _complemented(category: Any, ascii_only: bool) -> tuple[tuple[int, int], ...]:
    return tuple(_complement(list(_categories(ascii_only)[category])))


@functools.cache
def _categories(ascii_only: bool) -> dict[Any, tuple[tuple[int, int], ...]]:
    """Asks Python's own ``re`` once (a scan of every code point, ~0.1 s) so that the classes mean the same."""
    codes = array.array("I", range(_LAST + 1))
    every = (
        codes.tobytes().decode(f"utf-32-{sys.byteorder[0]}e", "surrogatepass")
        if codes.itemsize == 4
        else ("".join(map(chr, range(_LAST + 1))))
    )
    flags = re.ASCII if ascii_only else 0
    return {
        category: tuple((m.start(), m.end() - 1) for m in re.finditer(f"{escape}+", every, flags))
        for category, escape in ((_c.CATEGORY_DIGIT, r"\d"), (_c.CATEGORY_SPACE, r"\s"), (_c.CATEGORY_WORD, r"\w"))
    }


@functools.cache
def _category_body(category: Any, ascii_only: bool) -> str:
    """A category's ranges written as the inside of an RE2 character class."""
    return "".join(_class_item(low, high) for low, high in _category_ranges(category, ascii_only))


def _complement(ranges: Ranges) -> Ranges:
    out, start = [], 0
    for low, high in ranges:
        if low > start:
            out.append((start, low - 1))
        start = high + 1
    if start <= _LAST:
        out.append((start, _LAST))
    return out


def _char(code: int) -> str:
    ch = chr(code)
    return ch if ch.isascii() and ch.isalnum() else f"\\x{{{code:X}}}"


def _class_item(low: int, high: int) -> str:
    # Lone surrogates cannot appear in UTF-8 text; RE2 refuses them in classes.
    if high < 0xD800 or low > 0xDFFF:
        return _char(low) if low == high else f"{_char(low)}-{_char(high)}"
    parts = []
    if low < 0xD800:
        parts.append(_class_item(low, 0xD7FF))
    if high > 0xDFFF:
        parts.append(_class_item(0xE000, high))
    return "".join(parts)


# --- Python parse tree -> RE2 pattern ------------------------------------------------------------------------------


class _Translator:
    def __init__(self, param: str, names: dict[int, str]) -> None:
        self.param = param
        self.names = names

    def refuse(self, feature: str) -> RegexError:
        return RegexError(
            f"Parameter '{self.param}' uses {feature}, which the linear-time regular-expression engine does not "
            "support; rewrite the pattern without it.",
            param=self.param,
            feature=feature,
        )

    def sequence(self, items: Any, flags: int, depth: int) -> str:
        return "".join(self.node(op, av, flags, depth) for op, av in items)

    def scoped(self, text: str, flags: int) -> str:
        return f"(?i:{text})" if flags & re.IGNORECASE else text

    def node(self, op: Any, av: Any, flags: int, depth: int) -> str:
        if op in _FLAG_FEATURES:
            raise self.refuse(_FLAG_FEATURES[op])
        if op in (_c.ASSERT, _c.ASSERT_NOT):
            raise self.refuse(_ASSERTS[(op, av[0])])
        if op is _c.LITERAL:
            return self.scoped(_char(av), flags)
        if op is _c.NOT_LITERAL:
            return self.scoped(f"[^{_char(av)}]", flags)
        if op is _c.ANY:
            return "(?s:.)" if flags & re.DOTALL else "."
        if op is _c.IN:
            return self.scoped(self.char_class(av, flags), flags)
        if op is _c.CATEGORY:
            return self.char_class([(op, av)], flags)
        if op is _c.AT:
            return self.at(av, flags)
        if op is _c.BRANCH:
            return "(?:" + "|".join(self.sequence(branch, flags, depth) for branch in av[1]) + ")"
        if op is _c.SUBPATTERN:
            group, add, remove, sub = av
            inner = self.sequence(sub, (flags | add) & ~remove, depth)
            if group is None:
                return f"(?:{inner})"
            name = self.names.get(group)
            return f"(?P<{name}>{inner})" if name else f"({inner})"
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            return self.repeat(op, av, flags, depth)
        raise self.refuse(f"the construct {str(op).lower()}")

    def repeat(self, op: Any, av: Any, flags: int, depth: int) -> str:
        low, high, sub = av
        unbounded = high == _c.MAXREPEAT
        count = low if unbounded else high
        if count > MAX_REPEAT or depth * max(count, 1) > MAX_REPEAT:
            raise RegexError(
                f"Parameter '{self.param}': a repetition count is too large (at most {MAX_REPEAT}, counting "
                f"repetitions inside repeated groups multiplied together).",
                param=self.param,
                feature="repetition",
            )
        inner = self.sequence(sub, flags, depth * max(count, 1) if count > 1 else depth)
        if (low, high) == (0, _c.MAXREPEAT):
            quantifier = "*"
        elif (low, high) == (1, _c.MAXREPEAT):
            quantifier = "+"
        elif (low, high) == (0, 1):
            quantifier = "?"
        elif unbounded:
            quantifier = f"{{{low},}}"
        elif low == high:
            quantifier = f"{{{low}}}"
        else:
            quantifier = f"{{{low},{high}}}"
        return f"(?:{inner}){quantifier}" + ("?" if op is _c.MIN_REPEAT else "")

    def at(self, code: Any, flags: int) -> str:
        multiline = bool(flags & re.MULTILINE)
        return {
            _c.AT_BEGINNING: "(?m:^)" if multiline else "\\A",
            _c.AT_BEGINNING_STRING: "\\A",
            _c.AT_END: "(?m:$)" if multiline else "\\z",
            _c.AT_END_STRING: "\\z",
            _c.AT_BOUNDARY: "\\b",
            _c.AT_NON_BOUNDARY: "\\B",
        }[code]

    def char_class(self, items: Any, flags: int) -> str:
        negate = False
        parts = []
        for op, av in items:
            if op is _c.NEGATE:
                negate = True
            elif op is _c.LITERAL:
                parts.append(_class_item(av, av))
            elif op is _c.RANGE:
                parts.append(_class_item(*av))
            elif op is _c.CATEGORY:
                parts.append(_category_body(av, bool(flags & re.ASCII)))
            else:
                raise self.refuse(f"the class item {str(op).lower()}")
        body = "".join(parts)
        if not body:  # e.g. [^\W\w]: matches nothing / everything
            return "[^\\x00-\\x{10FFFF}]" if not negate else "(?s:.)"
        return f"[{'^' if negate else ''}{body}]"


# --- the compiled pattern ------------------------------------------------------------------------------------------


class Match:
    """The groups of one match (text, not positions)."""

    __slots__ = ("_values",)

    def __init__(self, values: tuple[str | None, ...]) -> None:
        self._values = values

    def group(self, index: int = 0) -> str | None:
        return self._values[index]

    def groups(self, default: Any = None) -> tuple[Any, ...]:
        return tuple(default if v is None else v for v in self._values[1:])


Span = tuple[int, int]
_UNANCHORED = _re2.RE2.Anchor.UNANCHORED


class Regex:
    """A user pattern compiled by RE2, with ``re.Pattern``'s semantics for the methods below.

    Matching works on the UTF-8 bytes of the text with RE2's own ``Match`` (one call per match; the Python wrapper's
    iteration repeats empty matches and costs more per call)."""

    def __init__(self, pattern: str, flags: int, compiled: Any, groupindex: dict[str, int], param: str) -> None:
        self.pattern = pattern
        self.flags = flags
        self.groups: int = compiled.NumberOfCapturingGroups()
        self.groupindex = groupindex
        self.param = param
        self._match = compiled.Match

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r})"

    def _spans(self, data: bytes) -> Iterator[list[Span]]:
        """Python 3.7+ iteration over UTF-8 ``data``: matches do not overlap; an empty match may follow a non-empty
        one at the same place; after an empty match the search resumes one character further."""
        pos, size, match = 0, len(data), self._match
        while pos <= size:
            spans = match(_UNANCHORED, data, pos, size)
            start, end = spans[0]
            if start < 0:
                return
            yield spans
            if end > start:
                pos = end
                continue
            pos = end + 1
            while pos < size and 0x80 <= data[pos] < 0xC0:  # skip the rest of a multi-byte character
                pos += 1

    def search(self, text: str) -> Match | None:
        data = _encode(text)
        spans = self._match(_UNANCHORED, data, 0, len(data))
        if spans[0][0] < 0:
            return None
        source: Any = text if len(data) == len(text) else data  # ASCII: byte offsets are character offsets
        return Match(tuple(None if s < 0 else _text(source[s:e]) for s, e in spans))

    def sub(self, repl: str, text: str, count: int = 0) -> str:
        data = _encode(text)
        ascii_only = len(data) == len(text)
        template = self.template(repl) if ascii_only else _template_bytes(self.template(repl))
        source: Any = text if ascii_only else data
        pieces: list[Any] = []
        end = 0
        for n, spans in enumerate(self._spans(data), start=1):
            start, stop = spans[0]
            pieces.append(source[end:start])
            for part in template:
                if not isinstance(part, int):
                    pieces.append(part)
                elif spans[part][0] >= 0:
                    pieces.append(source[spans[part][0] : spans[part][1]])
            end = stop
            if count and n >= count:
                break
        if not pieces:
            return text
        pieces.append(source[end:])
        return "".join(pieces) if ascii_only else _decode(b"".join(pieces))

    def split(self, text: str, maxsplit: int = 0) -> list[str | None]:
        if maxsplit < 0:
            return [text]
        data = _encode(text)
        source: Any = text if len(data) == len(text) else data
        pieces: list[Any] = []
        end = 0
        for n, spans in enumerate(self._spans(data), start=1):
            start, stop = spans[0]
            pieces.append(source[end:start])
            for s, e in spans[1:]:
                pieces.append(None if s < 0 else source[s:e])
            end = stop
            if maxsplit and n >= maxsplit:
                break
        pieces.append(source[end:])
        return pieces if source is text else [None if p is None else _decode(p) for p in pieces]

    def template(self, repl: str) -> tuple[str | int, ...]:
        """``repl`` in Python's replacement syntax (``\\1``, ``\\g<name>``, ``\\g<0>``, ``\\n``) as literal pieces and
        group numbers; RegexError when it is invalid for this pattern."""
        return _template(repl, self.groups, tuple(sorted(self.groupindex.items())), self.param)


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


def _text(piece: str | bytes) -> str:
    return piece if isinstance(piece, str) else _decode(piece)


@functools.lru_cache(maxsize=256)
def _template_bytes(template: tuple[str | int, ...]) -> tuple[bytes | int, ...]:
    return tuple(part if isinstance(part, int) else _encode(part) for part in template)


_TEMPLATE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


@functools.lru_cache(maxsize=256)
def _template(repl: str, groups: int, names: tuple[tuple[str, int], ...], param: str) -> tuple[str | int, ...]:
    """Python's ``re`` replacement-template rules (``re._parser.parse_template``), written out."""
    index_of = dict(names)
    out: list[str | int] = []
    literal: list[str] = []

    def fail(reason: str) -> RegexError:
        return RegexError(f"Parameter 'replacement' is not valid for this pattern: {reason}.", param="replacement")

    def group(number: int) -> None:
        if number > groups:
            raise fail(f"invalid group reference {number}")
        if literal:
            out.append("".join(literal))
            literal.clear()
        out.append(number)

    i, size = 0, len(repl)
    while i < size:
        ch = repl[i]
        if ch != "\\":
            literal.append(ch)
            i += 1
            continue
        if i + 1 >= size:
            raise fail("bad escape (end of pattern)")
        c = repl[i + 1]
        if c == "g":
            if i + 2 >= size or repl[i + 2] != "<":
                raise fail("missing <")
            close = repl.find(">", i + 3)
            if close < 0:
                raise fail("missing >, unterminated name")
            name = repl[i + 3 : close]
            if not name:
                raise fail("missing group name")
            if name.isidentifier():
                if name not in index_of:
                    raise fail(f"unknown group name {name!r}")
                group(index_of[name])
            elif name.isdecimal() and name.isascii():
                group(int(name))
            else:
                raise fail(f"bad character in group name {name!r}")
            i = close + 1
        elif c == "0":
            j = i + 2
            while j < size and j < i + 4 and repl[j] in "01234567":
                j += 1
            literal.append(chr(int(repl[i + 1 : j], 8) & 0xFF))
            i = j
        elif c in "123456789":
            j = i + 2
            if j < size and repl[j] in "0123456789":
                if c in "01234567" and repl[j] in "01234567" and j + 1 < size and repl[j + 1] in "01234567":
                    value = int(repl[i + 1 : j + 2], 8)
                    if value > 0o377:
                        raise fail(f"octal escape value {repl[i : j + 2]} outside of range 0-0o377")
                    literal.append(chr(value))
                    i = j + 2
                    continue
                j += 1
            group(int(repl[i + 1 : j]))
            i = j
        elif c in _TEMPLATE_ESCAPES:
            literal.append(_TEMPLATE_ESCAPES[c])
            i += 2
        elif c.isascii() and c.isalpha():
            raise fail(f"bad escape \\{c}")
        else:
            literal.append("\\" + c)
            i += 2
    if literal:
        out.append("".join(literal))
    return tuple(out)


@functools.lru_cache(maxsize=32)
def compile_regex(pattern: str, *, ignore_case: bool = False, param: str = "pattern") -> Regex:
    """Compile a user's pattern for linear-time matching, or raise RegexError naming ``param`` and the problem."""
    if not isinstance(pattern, str):
        raise RegexError(f"Parameter '{param}' must be text.", param=param)
    if len(pattern) > MAX_PATTERN:
        raise RegexError(f"Parameter '{param}' is too long (at most {MAX_PATTERN} characters).", param=param)
    flags = re.IGNORECASE if ignore_case else 0
    try:
        tree = _parser.parse(pattern, flags)
    except re.error as exc:
        raise RegexError(f"Parameter '{param}' is not a valid regular expression: {exc}.", param=param) from exc
    except (RecursionError, OverflowError) as exc:
        raise RegexError(f"Parameter '{param}' is nested too deeply.", param=param) from exc
    state = tree.state
    names = {index: name for name, index in state.groupdict.items()}
    try:
        translated = _Translator(param, names).sequence(tree, state.flags, 1)
    except RecursionError as exc:
        raise RegexError(f"Parameter '{param}' is nested too deeply.", param=param) from exc
    try:
        compiled = _re2.RE2(translated.encode(), _OPTIONS)  # not re2.compile: its cache keeps 128 patterns
    except re2.error as exc:  # pragma: no cover - RE2 reports through ok()/error() below
        raise RegexError(f"Parameter '{param}' is not a supported regular expression: {exc}.", param=param) from exc
    if not compiled.ok():
        reason = compiled.error()
        reason = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        if "too large" in reason or "repetition" in reason:
            raise RegexError(
                f"Parameter '{param}' is too complex for the regular-expression engine (repetitions too large or "
                f"nested too deeply; at most {MAX_REPEAT} repetitions and {MAX_MEM >> 20} MiB).",
                param=param,
                feature="repetition",
            )
        raise RegexError(f"Parameter '{param}' is not a supported regular expression: {reason}.", param=param)
    return Regex(pattern, flags, compiled, dict(state.groupdict), param)
