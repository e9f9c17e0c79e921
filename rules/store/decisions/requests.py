"""What a decision request may carry, and what a repeated one means (DESIGN §3).

A ``request_id`` is the client's idempotency key, unique per ruleset: a request id seen before
with the same facts returns the stored decision; with other facts it is a conflict (RB411),
not a repeat. A batch is a list of 1 to :data:`MAX_BATCH` items ``{facts, request_id?}``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.errors import ConflictError, InvalidRequestError, Problem, suggest
from rules.store.decisions.records import DecisionRecord, decision_record
from rules.store.models import Decision

__all__ = [
    "MAX_BATCH",
    "MAX_REQUEST_ID",
    "batch_items",
    "check_request_id",
    "new_request_id",
    "repeat",
    "stored_decision",
]

MAX_REQUEST_ID = 200
MAX_BATCH = 1000
ITEM_FIELDS = ("facts", "request_id")


def check_request_id(request_id: object, loc: str) -> Problem | None:
    """What is wrong with ``request_id`` (None or a string of 1-200 characters), if anything."""
    if request_id is None:
        return None
    if not isinstance(request_id, str) or not 1 <= len(request_id) <= MAX_REQUEST_ID:
        return Problem(
            "RB410", loc, f"request_id must be a string of 1-{MAX_REQUEST_ID} characters"
        )
    return None


def new_request_id() -> str:
    """A request id for a request that came without one (a UUIDv7: time-ordered, so the
    unique index grows at its end), returned with the answer so that a retry is safe."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & (2**62 - 1)
    digits = f"{value:032x}"  # str(uuid.UUID(int=value)), without building the object
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def require_request_id(request_id: object) -> None:
    """InvalidRequestError unless ``request_id`` is None or a valid request id."""
    problem = check_request_id(request_id, "request_id")
    if problem:
        raise InvalidRequestError("the request is not valid", [problem])


def batch_items(items: object) -> Sequence[Any]:
    """The batch's items as a sequence; InvalidRequestError (RB412) unless 1 to MAX_BATCH."""
    if not isinstance(items, Sequence) or isinstance(items, str | bytes) or not items:
        raise InvalidRequestError(
            "the batch is not valid",
            [Problem("RB412", "items", f"give a list of 1-{MAX_BATCH} items")],
        )
    if len(items) > MAX_BATCH:
        raise InvalidRequestError(
            "the batch is too large",
            [
                Problem(
                    "RB412", "items", f"{len(items)} items; split it into batches of {MAX_BATCH}"
                )
            ],
        )
    return items


def item_problems(item: object, loc: str, seen: set[str]) -> list[Problem]:
    """What is wrong with one batch item's shape and request id (its facts aside); a request
    id is added to ``seen``, and one seen before in the batch is a problem."""
    if not isinstance(item, Mapping):
        return [Problem("RB412", loc, "each item is an object {facts, request_id?}")]
    problems = [
        Problem("RB413", f"{loc}.{key}", "unknown field", suggest(key, ITEM_FIELDS))
        for key in sorted(set(item) - set(ITEM_FIELDS))
    ]
    rid = item.get("request_id")
    bad = check_request_id(rid, f"{loc}.request_id")
    if bad:
        problems.append(bad)
    elif isinstance(rid, str):
        if rid in seen:
            problems.append(Problem("RB411", f"{loc}.request_id", "repeated within the batch"))
        seen.add(rid)
    return problems


def stored_decision(session: Session, ruleset_id: int, request_id: str) -> Decision | None:
    """The ruleset's decision recorded with ``request_id``, if any."""
    return session.scalar(
        select(Decision).where(Decision.ruleset_id == ruleset_id, Decision.request_id == request_id)
    )


def repeat(row: Decision, name: str, facts: Mapping[str, Any], loc: str) -> DecisionRecord:
    """The stored decision a repeated request returns; ConflictError (RB411) when the request
    id was used with other facts."""
    if row.facts != dict(facts):
        raise ConflictError(
            f"request_id {row.request_id!r} was already used for decision {row.id} with "
            "different facts; use a new request_id for a new decision",
            [Problem("RB411", loc, "request_id reused with different facts")],
        )
    return decision_record(row, name)
