"""The policy oracle's first checks of one tool call: what the gateway's documented contract
(DESIGN §5, the gateway's API notes) says before any tool runs, written without ``proposer``.

After the run's tool-call limit (:class:`~tests.proposer.llm.injection_oracle.Oracle` keeps
that count), in this order, a call is refused

1. for a tool not on the allow-list: ``unknown_tool``, RB951 at ``name``;
2. for arguments that are not JSON text (NaN and Infinity are not JSON): ``malformed``, RB952
   at ``arguments``;
3. for a NUL character in any text of the arguments, a key or a value at any depth, whatever
   the arguments are (a list too): ``denied``, RB955 at ``arguments`` (no database stores one);
4. for arguments that are not a JSON object: ``malformed``, RB952 at ``arguments``;
5. for an unexpected, missing, mistyped or out-of-bounds argument: ``denied``, RB953 at
   ``arguments.<name>``, every such argument named.

A refusal names the tool as the model called it, at most ``MAX_ECHO`` characters of it, and
the run record keeps what the model sent with each NUL shown as ``NUL_MARK``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALLOWED_TOOLS",
    "MAX_ECHO",
    "NUL_MARK",
    "SCHEMAS",
    "Verdict",
    "call_verdict",
    "deny",
    "has_nul",
    "parse",
    "whole",
]

ALLOWED_TOOLS = (
    "read_ruleset",
    "query_exceptions",
    "read_case",
    "read_frontier",
    "run_backtest",
    "submit_proposal",
)
MAX_ECHO = 200  # characters of a tool's name a refusal quotes (and the log keeps)
NUL_MARK = "\u2400"  # how the run record shows a NUL the model sent
MAX_ID = 2**63 - 1  # an integer argument above what a BIGINT column holds fails the schema
# argument: (type, required, low, high) as documented for the gateway
SCHEMAS: dict[str, dict[str, tuple[str, bool, int | None, int | None]]] = {
    "read_ruleset": {"first_rule": ("int", False, 0, 4000), "max_rules": ("int", False, 1, 200)},
    "query_exceptions": {
        "page": ("int", False, 1, 100_000),
        "page_size": ("int", False, 1, 50),
        "rule_id": ("str", False, 1, 128),
        "status": ("status", False, None, None),
        "resolved_as": ("scalar", False, None, None),
    },
    "read_case": {"decision_id": ("int", True, 1, MAX_ID)},
    "read_frontier": {"target": ("scalar", False, None, None), "max_offers": ("int", False, 1, 10)},
    "run_backtest": {"operations": ("ops", True, 1, 8000), "window": ("str", False, 1, 100)},
    "submit_proposal": {
        "operations": ("ops", True, 1, 8000),
        "rationale": ("str", True, 1, 4000),
        "citations": ("ids", True, 1, 50),
        "title": ("str", False, 1, 200),
    },
}


@dataclass(frozen=True)
class Verdict:
    """What the policy says of one call. ``codes``/``locations`` None: not predicted (an
    error the rule language's own parser reports). ``echo``: the tool name the answer quotes."""

    kind: str
    codes: frozenset[str] | None = frozenset()
    locations: frozenset[str] | None = frozenset()
    citations: Mapping[int, str] | None = None
    changed: int | None = None  # an allowed proposal's changed outcomes, of the whole log
    impact: str | None = None
    echo: str = ""


def deny(kind: str, code: str | None, *locations: str) -> Verdict:
    codes = None if code is None else frozenset({code})
    return Verdict(kind, codes, frozenset(locations) if locations else None)


class _Invalid:
    """Arguments that are not JSON text."""


INVALID = _Invalid()


def parse(raw: str) -> Any:
    """The arguments as JSON (an empty text is ``{}``), or ``INVALID``."""
    if not raw.strip():
        return {}

    def constant(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(raw, parse_constant=constant)
    except (ValueError, RecursionError):
        return INVALID


def has_nul(value: Any) -> bool:
    """A NUL in any text of a JSON value, keys included, at any depth (no recursion: the
    model chooses the depth)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        if isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fits(kind: str, value: Any, low: int | None, high: int | None) -> bool:
    def within(n: int) -> bool:
        return (low is None or n >= low) and (high is None or n <= high)

    if kind == "int":
        return whole(value) and within(value)
    if kind == "str":
        return isinstance(value, str) and within(len(value))
    if kind == "status":
        return value in ("any", "resolved", "unresolved")
    if kind == "scalar":
        return isinstance(value, str | int | float) and not isinstance(value, list | dict)
    if not isinstance(value, list) or not within(len(value)):
        return False
    if kind == "ids":
        return all(whole(v) and 1 <= v <= MAX_ID for v in value)
    return all(isinstance(v, dict) for v in value)


def _schema(name: str, args: dict[str, Any]) -> Verdict | None:
    schema = SCHEMAS[name]
    unexpected = [k for k in args if k not in schema]
    wrong = [f"arguments.{k}" for k in unexpected]
    for key, (kind, required, low, high) in schema.items():
        if (key in args and not _fits(kind, args[key], low, high)) or (
            key not in args and required
        ):
            wrong.append(f"arguments.{key}")
    if not wrong:
        return None
    if any(len(k) > MAX_ECHO for k in unexpected):
        return deny("denied", "RB953")  # how a long name is shortened is not the policy's
    return deny("denied", "RB953", *wrong)


def call_verdict(name: str, raw: str) -> Verdict | dict[str, Any]:
    """The refusal of the call, in the order above, or its arguments when its tool runs."""
    if name not in ALLOWED_TOOLS:
        return deny("unknown_tool", "RB951", "name")
    args = parse(raw)
    if args is INVALID:
        return deny("malformed", "RB952", "arguments")
    if has_nul(args):
        return deny("denied", "RB955", "arguments")
    if not isinstance(args, dict):
        return deny("malformed", "RB952", "arguments")
    return _schema(name, args) or args
