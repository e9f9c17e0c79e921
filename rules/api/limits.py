"""What a client may send, checked before anything reaches the database (README "Input
limits"); the API and the review app share these rules.

- **Text** is Unicode that both databases can store: no NUL character (PostgreSQL cannot
  store one in text or JSON) and no lone surrogate (``"\\ud800"`` is valid JSON but not
  Unicode). :func:`text_problem` says what is wrong with one string, :func:`text_problems`
  with the strings of a query or a form.
- **JSON** nests at most :data:`MAX_DEPTH` levels; :func:`json_problems` walks a parsed body
  once (iteratively: no recursion limit to hit) for depth and text, naming each field.
- **Ids** in URLs are 64-bit (:data:`MAX_ID`), version numbers 32-bit (:data:`MAX_INT`): the
  ``int`` URL converter (:class:`IdConverter`, installed by :func:`install_converters`) does
  not match a larger number, so the page is a 404 like any id that names nothing.
- **Times** must have a UTC equivalent Python can represent (:func:`utc`):
  ``9999-12-31T23:59:59-14:00`` has none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

from rules.errors import Problem

__all__ = [
    "LAST_DATE",
    "MAX_DEPTH",
    "MAX_ID",
    "MAX_INT",
    "IdConverter",
    "install_converters",
    "json_problems",
    "show_key",
    "text_problem",
    "text_problems",
    "utc",
]

MAX_DEPTH = 32
MAX_INT = 2**31 - 1  # version numbers are 32-bit integers in the database
MAX_ID = 2**63 - 1  # ids are 64-bit
# The last day a date filter may name: its end (the next midnight) must still be a datetime.
LAST_DATE = date.max - timedelta(days=1)

NUL = "contains a NUL character (\\u0000), which cannot be stored; remove it"
SURROGATE = (
    "contains a lone surrogate ({escape}), which is not Unicode text; send a whole character "
    "(a surrogate pair) or remove it"
)


def text_problem(value: str) -> str | None:
    """What makes ``value`` text the databases cannot store, if anything."""
    if value.isascii():
        return NUL if "\x00" in value else None
    if "\x00" in value:
        return NUL
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return SURROGATE.format(escape=show_key(value[exc.start]))
    return None


def show_key(key: str) -> str:
    """A key or character as it can be shown in a field name: escapes for the unprintable."""
    return json.dumps(key)[1:-1]


def _field(parent: str, key: str) -> str:
    name = show_key(key)
    return f"{parent}.{name}" if parent else name


def text_problems(fields: Iterable[tuple[str, str]], code: str = "RB436") -> list[Problem]:
    """A problem for each (name, value) of a query or form that is not storable text."""
    problems = []
    for name, value in fields:
        wrong = text_problem(name) or text_problem(value)
        if wrong:
            problems.append(Problem(code, show_key(name), wrong))
    return problems


def json_problems(
    body: Any, max_depth: int = MAX_DEPTH, texts: bool = True
) -> tuple[bool, list[Problem]]:
    """Whether ``body`` nests deeper than ``max_depth``, and (with ``texts``) each string, key
    or value, that is not storable text, named by its field (``items[2].facts.name``)."""
    problems: list[Problem] = []
    stack: list[tuple[Any, str, int]] = [(body, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            wrong = text_problem(value) if texts else None
            if wrong:
                problems.append(Problem("RB436", where, wrong))
        elif isinstance(value, dict | list):
            if depth >= max_depth:
                return True, problems
            if isinstance(value, dict):
                for key, item in value.items():
                    wrong = text_problem(key) if texts else None
                    if wrong:
                        problems.append(Problem("RB436", _field(where, key), "the key " + wrong))
                    stack.append((item, _field(where, key), depth + 1))
            else:
                stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))
    problems.sort(key=lambda p: p.location)
    return False, problems


class IdConverter(IntegerConverter):
    """``<int:...>`` that matches only what a 64-bit id column can hold (no larger numbers)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def install_converters(app: Flask) -> None:
    """Make ``<int:...>`` in the app's routes bounded (before any route is added)."""
    app.url_map.converters["int"] = IdConverter


def utc(at: datetime) -> datetime | None:
    """``at`` (with a timezone) in UTC, or None when that falls outside the years 1-9999."""
    try:
        return at.astimezone(UTC)
    except OverflowError:
        return None
