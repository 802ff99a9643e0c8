"""apps/core/regex.py: user patterns run in linear time with Python's syntax and meaning, or are refused by name.

Plain module tests (no database). The timing cases run in a forked child with a hard cap (tests/timing.py), so that
on an engine that backtracks they fail after a few seconds instead of hanging the suite.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.core.regex import MAX_PATTERN, RegexError, compile_regex
from tests import timing

# Patterns that make a backtracking engine take exponential time on a near-match, by class.
EXPONENTIAL = [
    r"(a|a)*c",  # alternation of equal branches under a star
    r"(?:a|a)+c",
    r"(a|aa)*c",
    r"(a|a?)+c",
    r"(a?){25}a{25}",  # optional repeated, then fixed
    r"(?:a?){28}a{28}",
    r"(a{1,999}){1,999}c",  # nested counted repeats (refused as too large, before any matching)
    r"(a{1,30}){1,30}c",
    r"(a+)+c",  # nested unbounded repeats
    r"(\w*a?)*c",
    r"((a+)|(b+))*c",
    r"^(([a-z])+.)+[A-Z]([a-z])+$",
]


def assert_fast(fn: Callable[[], object]) -> None:
    compile_regex(r"\w\s\d")  # the one-time table of Python's Unicode classes, built before the clock starts
    timing.assert_fast(fn, limit=0.5, cap=5.0, expected=(RegexError,))


@pytest.mark.parametrize("pattern", EXPONENTIAL)
@pytest.mark.parametrize("length", [26, 30])
def test_exponential_patterns_run_in_well_under_a_second(pattern: str, length: int) -> None:
    text = "a" * length  # a near-match: no 'c'

    def work() -> None:
        rx = compile_regex(pattern)
        rx.sub("x", text)
        rx.search(text)
        rx.split(text)

    assert_fast(work)


def test_exponential_patterns_are_accepted_with_python_results_or_refused_as_too_large() -> None:
    for pattern in EXPONENTIAL:
        if pattern == r"(a{1,999}){1,999}c":
            with pytest.raises(RegexError, match="repetition count is too large"):
                compile_regex(pattern)
            continue
        for text in ["a" * 8, "a" * 8 + "c", "aAbc", "Abc", "abcD"]:  # short enough for Python's re
            assert compile_regex(pattern).sub("<\\g<0>>", text) == re.sub(pattern, "<\\g<0>>", text), (pattern, text)


@pytest.mark.parametrize(
    ("pattern", "feature"),
    [
        (r"(a)\1", "backreference"),
        (r"(?P<q>['\"]).*?(?P=q)", "backreference"),
        (r"foo(?=bar)", "lookahead (?=...)"),
        (r"foo(?!bar)", "negative lookahead (?!...)"),
        (r"(?<=\$)\d+", "lookbehind (?<=...)"),
        (r"(?<!-)\d+", "negative lookbehind (?<!...)"),
        (r"a*+b", "possessive quantifier"),
        (r"a?+", "possessive quantifier"),
        (r"(?>a|ab)c", "atomic group"),
        (r"(<)?\w+(?(1)>|$)", "conditional group"),
    ],
)
def test_python_only_features_are_refused_by_name(pattern: str, feature: str) -> None:
    with pytest.raises(RegexError) as caught:
        compile_regex(pattern, param="delimiter")
    message = str(caught.value)
    assert message.startswith("Parameter 'delimiter' uses ") and feature in message, message
    assert caught.value.param == "delimiter" and feature in (caught.value.feature or "")


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("a{1001}", "repetition count is too large"),
        ("a{2000,}", "repetition count is too large"),
        ("(?:a{1,100}){1,100}", "repetition count is too large"),
        ("((a{2}){20}){30}", "repetition count is too large"),
        ("x" * (MAX_PATTERN + 1), f"too long (at most {MAX_PATTERN} characters)"),
        ("(unclosed", "not a valid regular expression: missing ), unterminated subpattern"),
        ("[z-a]", "not a valid regular expression: bad character range"),
        ("(?P<1x>a)", "not a valid regular expression"),
    ],
)
def test_caps_and_syntax_errors_name_the_problem(pattern: str, fragment: str) -> None:
    with pytest.raises(RegexError, match=re.escape(fragment)):
        compile_regex(pattern)


def test_memory_is_bounded() -> None:
    """Within the counts, a pattern whose compiled program would exceed RE2's memory budget is refused, not built."""
    with pytest.raises(RegexError, match="too complex"):
        compile_regex(r"(?:\w{1,100}){10}(?:\w{1,100}){10}")
    assert compile_regex(r"\w{1,100}").search("é" * 150).group() == "é" * 100


# --- same results as Python's re ------------------------------------------------------------------------------------

SAME = [
    (r"(\d+)-(\d+)", ["123-45", "x", "1-2 and 30-40", ""]),
    (r"(?P<year>\d{4})-(?P<month>\d\d)", ["2024-06, 1999-12", "no date"]),
    (r"\w+", ["josé naïve ŒUVRE_2", "٣٤ ١٢", "日本語 テキスト"]),
    (r"\d+", ["٣٤ and 12 and １２", "none"]),
    (r"\s+", ["a\u00a0b\u2003c\td\n", "x\x1cy"]),
    (r"[^\W\d_]+", ["abc_123déf", "__"]),
    (r"[\s,;]+", ["a, b;c  d", ","]),
    (r"[^a-c]", ["abcdé\n", ""]),
    (r"x*", ["abxd", "", "xx"]),
    (r"", ["abc", ""]),
    (r"a|ab", ["abab", "b"]),
    (r"a+?", ["aaa"]),
    (r"(a)|(b)", ["ab", "c"]),
    (r"(?i)stra(ss|ß)e", ["STRASSE Straße straẞe", "street"]),
    (r"(?i)[à-ÿ]+", ["ÀÉÎõü", "abc"]),
    (r"(?x) (\d+) \s* - \s* (\d+)  # a range", ["10 - 20", "7-8"]),
    (r"(?s)a.b", ["a\nb", "axb"]),
    (r"a.b", ["a\nb", "axb"]),
    (r"(?m)^\w+$", ["one\ntwo\nthree", "x"]),
    (r"^\w+", ["one two", " one"]),
    (r"\w+\Z", ["one two", "one two "]),
    (r"\Ab", ["ab", "ba"]),
    (r"\bcat\b", ["cat concat cat.", "bobcat"]),
    (r"(?a)\w+", ["josé", "abc"]),
    (r"[\u0400-\u04ff]+", ["Привет, world", "none"]),
    (r"\.\*\+\?\(\)\[\]\{\}\|\\\^\$", [".*+?()[]{}|\\^$", "x"]),
    (r"[.$^*\]-]", ["a.b$c^d*e]f-g"]),
    (r"(\w)(\w)?", ["abc", "a"]),
    (r"😀+", ["a😀😀b😀", "none"]),
]


@pytest.mark.parametrize(("pattern", "texts"), SAME, ids=[p for p, _ in SAME])
def test_search_split_and_sub_give_the_same_results_as_python_re(pattern: str, texts: list[str]) -> None:
    ours, theirs = compile_regex(pattern), re.compile(pattern)
    assert ours.groups == theirs.groups and ours.groupindex == dict(theirs.groupindex)
    for text in texts:
        found, expected = ours.search(text), theirs.search(text)
        assert (found is None) == (expected is None), text
        if found is not None and expected is not None:
            assert found.group() == expected.group() and found.groups() == expected.groups(), text
        assert ours.split(text) == theirs.split(text), text
        assert ours.split(text, maxsplit=1) == theirs.split(text, maxsplit=1), text
        assert ours.sub("<\\g<0>>", text) == theirs.sub("<\\g<0>>", text), text
        assert ours.sub("#", text, count=1) == theirs.sub("#", text, count=1), text


def test_case_insensitive_option() -> None:
    assert compile_regex("École", ignore_case=True).sub("x", "ÉCOLE école") == "x x"
    assert compile_regex("École").sub("x", "ÉCOLE École") == "ÉCOLE x"


TEMPLATES = [
    r"\2-\1",
    r"\g<2>\g<1>",
    r"\g<year>/\g<0>",
    r"[\1]",
    r"\n\t\\",
    r"\0",
    r"\012",
    r"\101",
    r"\18",
    r"é\1ü",
    r"\&",
    r"\-",
    "$1",
    r"\g<3>",
    r"\3",
    r"\g<nope>",
    r"\q",
    r"\g<1",
    r"\g1",
    "\\",
    r"\g<-1>",
    r"\g<>",
    r"\400",
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_replacement_templates_follow_python_rules(template: str) -> None:
    pattern = r"(?P<year>\d+)-(\d+)?"
    ours, theirs = compile_regex(pattern), re.compile(pattern)
    for text in ["2024-06 and 7-", "none"]:
        try:
            expected = theirs.sub(template, text)
        except (re.error, IndexError):
            with pytest.raises(RegexError, match="Parameter 'replacement' is not valid for this pattern"):
                ours.sub(template, text)
            with pytest.raises(RegexError):
                ours.template(template)
            continue
        assert ours.sub(template, text) == expected


PROPERTY_PATTERNS = [
    r"a+b?",
    r"(a|b)*c",
    r"\w+",
    r"[^ab]+",
    r"(?i)A.",
    r"\s*,\s*",
    r"b|",
    r"(a)(b)?",
    r"\d{2,3}",
    r"(?m)^a",
]


@settings(max_examples=200, deadline=None)
@given(pattern=st.sampled_from(PROPERTY_PATTERNS), text=st.text(alphabet="abcAB, \n1234é_x\u00a0", max_size=20))
def test_random_texts_match_python_re(pattern: str, text: str) -> None:
    ours, theirs = compile_regex(pattern), re.compile(pattern)
    assert ours.sub(r"[\g<0>]", text) == theirs.sub(r"[\g<0>]", text)
    assert ours.split(text) == theirs.split(text)
    found, expected = ours.search(text), theirs.search(text)
    assert (found and found.groups()) == (expected and expected.groups())
