"""FEEL simple unary tests: parsing, FEEL's three-valued meaning, and writing back."""

from __future__ import annotations

import pytest

from rules.core.dmn.feel import (
    Compare,
    Equal,
    Interval,
    IsNull,
    NotEqual,
    NotNull,
    UnaryTests,
    format_literal,
    format_tests,
    matches,
    parse_literal,
    parse_number,
    parse_unary_tests,
)
from rules.errors import DmnError


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("-", None),
        ("  ", None),
        ("5", UnaryTests((Equal(5),))),
        ("-2.5", UnaryTests((Equal(-2.5),))),
        ('"a\\"b\\\\c\\u00e9"', UnaryTests((Equal('a"b\\cé'),))),
        ("true, false", UnaryTests((Equal(True), Equal(False)))),
        ("<= 10, > 20", UnaryTests((Compare("<=", 10), Compare(">", 20)))),
        ("= 3, != 4", UnaryTests((Equal(3), NotEqual(4)))),
        ("null", UnaryTests((IsNull(),))),
        ("not(null)", UnaryTests((IsNull(),), negated=True)),
        ("!= null", UnaryTests((NotNull(),))),
        ("[1..2]", UnaryTests((Interval(1, 2, True, True),))),
        ("(1..2)", UnaryTests((Interval(1, 2, False, False),))),
        ("]1..2[", UnaryTests((Interval(1, 2, False, False),))),
        ("]1..2]", UnaryTests((Interval(1, 2, False, True),))),
        ("[1..2[", UnaryTests((Interval(1, 2, True, False),))),
        ('["a".."c")', UnaryTests((Interval("a", "c", True, False),))),
        ('not("a", "b")', UnaryTests((Equal("a"), Equal("b")), negated=True)),
    ],
)
def test_parse(text: str, parsed: UnaryTests | None) -> None:
    assert parse_unary_tests(text) == parsed
    if parsed is not None:
        assert parse_unary_tests(format_tests(parsed)) == parsed


@pytest.mark.parametrize(
    "text",
    ['date("2020-01-01")', "x", "< y", "1 + 2", "[1..]", "not(1", "5 6", '"a', "1e3", "?"],
)
def test_outside_the_subset(text: str) -> None:
    with pytest.raises(DmnError):
        parse_unary_tests(text)


def test_null_semantics() -> None:
    """null = v is false, null != v is true, null < v is null, and not() keeps null."""
    cell = parse_unary_tests
    assert matches(cell('"a"'), None) is False
    assert matches(cell('not("a")'), None) is True
    assert matches(cell('!= "a"'), None) is True
    assert matches(cell("< 5"), None) is None
    assert matches(cell("not(< 5)"), None) is None
    assert matches(cell('not(< 5, "a")'), None) is None
    assert matches(cell('not(null, "a")'), None) is False
    assert matches(cell("not(!= null)"), None) is True
    assert matches(cell("-"), None) is True
    assert matches(cell("not(< 5)"), 7) is True


def test_literals_and_numbers() -> None:
    assert parse_literal("") is None
    assert parse_literal("null") is None
    assert parse_literal("1.50") == 1.5
    assert parse_number("10000000000000000") == 1e16  # beyond 2**53 but a double exactly
    with pytest.raises(DmnError, match="not exactly a double"):
        parse_number("10000000000000001")
    with pytest.raises(DmnError, match="more digits"):
        parse_number("0.1000000000000000000001")
    assert format_literal(1e-07) == "0.0000001"
    assert format_literal(1e16) == "10000000000000000"
    assert format_literal('a"\n') == '"a\\"\\n"'
    assert format_literal(False) == "false"
