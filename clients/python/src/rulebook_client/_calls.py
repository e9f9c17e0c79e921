"""The API's calls as data, shared by :class:`Client` and :class:`AsyncClient`.

Each function here builds a :class:`Call`: the method, path and encoded body, whether a retry
is safe (see :mod:`rulebook_client._retry`), and how to read the answer. The clients only send
it. The body is encoded once, so every attempt of a call sends the same bytes, including the
``request_id`` generated for a decision that was given none.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, Union
from urllib.parse import quote

import httpx

from rulebook_client._errors import RulebookError, error_for
from rulebook_client._models import (
    BatchItem,
    Decision,
    DecisionDetail,
    Replay,
    Resolution,
    Ruleset,
    Version,
    parse_decision,
    parse_decision_detail,
    parse_replay,
    parse_resolution,
    parse_ruleset,
    parse_version,
)
from rulebook_client._retry import Safety

__all__ = [
    "Call",
    "Item",
    "decide",
    "decide_batch",
    "get_decision",
    "new_request_id",
    "replay",
    "resolve",
    "rulesets",
    "versions",
]

T = TypeVar("T")
API = "/api/v1"
# A decide_batch item: the facts alone, or a BatchItem carrying its own request_id.
Item = Union[Mapping[str, Any], BatchItem]


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call: what to send, what a retry may do, and how to read the answer."""

    method: str
    path: str
    safety: Safety
    read: Callable[[httpx.Response], T]
    content: bytes | None = None

    @property
    def what(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json"} if self.content is not None else {}

    def answer(self, response: httpx.Response) -> T:
        """The result of a final answer; raises its :class:`RulebookError` if it is an error."""
        if not response.is_success:
            raise error_for(response)
        try:
            return self.read(response)
        except (ValueError, KeyError, TypeError) as exc:
            raise RulebookError(
                f"{self.what}: the answer does not have the expected shape ({exc!r})",
                status=response.status_code,
            ) from exc


def new_request_id() -> str:
    """A fresh request_id (a random UUID) for a decision the caller gave none."""
    return str(uuid.uuid4())


def _encode(body: Mapping[str, Any]) -> bytes:
    try:
        return json.dumps(body, allow_nan=False).encode("utf-8")
    except ValueError as exc:  # NaN or infinity: not JSON
        raise ValueError(f"the request body is not JSON: {exc}") from None


def _name(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"a ruleset name must be a non-empty string, got {value!r}")
    return quote(value, safe="")


def _id(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"a decision id must be an int, got {value!r}")
    return value


def _facts(facts: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(facts, Mapping):
        raise TypeError(f"{where} must be a mapping of names to values, got {facts!r}")
    return dict(facts)


def _json(response: httpx.Response) -> Any:
    return json.loads(response.content)


def _items(response: httpx.Response, parse: Callable[[Any], T]) -> list[T]:
    return [parse(item) for item in _json(response)["items"]]


def decide(
    ruleset: str, facts: Mapping[str, Any], request_id: str | None, version: int | None
) -> Call[Decision]:
    body: dict[str, Any] = {
        "facts": _facts(facts, "facts"),
        "request_id": new_request_id() if request_id is None else request_id,
    }
    if version is not None:
        body["version"] = version
    return Call(
        "POST",
        f"{API}/rulesets/{_name(ruleset)}/decisions",
        Safety.IDEMPOTENT,
        lambda r: parse_decision(_json(r), created=r.status_code == 201),
        _encode(body),
    )


def _batch_item(item: Item, index: int) -> dict[str, Any]:
    where = f"items[{index}]"
    if isinstance(item, BatchItem):
        facts, request_id = _facts(item.facts, f"{where}.facts"), item.request_id
    else:
        facts, request_id = _facts(item, where), None
    return {"facts": facts, "request_id": new_request_id() if request_id is None else request_id}


def decide_batch(ruleset: str, items: Iterable[Item], version: int | None) -> Call[list[Decision]]:
    body: dict[str, Any] = {"items": [_batch_item(item, i) for i, item in enumerate(items)]}
    if version is not None:
        body["version"] = version
    return Call(
        "POST",
        f"{API}/rulesets/{_name(ruleset)}/decisions/batch",
        Safety.IDEMPOTENT,
        lambda r: _items(r, parse_decision),
        _encode(body),
    )


def get_decision(decision_id: int) -> Call[DecisionDetail]:
    return Call(
        "GET",
        f"{API}/decisions/{_id(decision_id)}",
        Safety.IDEMPOTENT,
        lambda r: parse_decision_detail(_json(r)),
    )


def resolve(decision_id: int, outputs: Mapping[str, Any], note: str | None) -> Call[Resolution]:
    body: dict[str, Any] = {"outputs": _facts(outputs, "outputs")}
    if note is not None:
        body["note"] = note
    return Call(
        "POST",
        f"{API}/decisions/{_id(decision_id)}/resolution",
        Safety.UNSENT_ONLY,
        lambda r: parse_resolution(_json(r)),
        _encode(body),
    )


def replay(decision_id: int) -> Call[Replay]:
    return Call(
        "POST",
        f"{API}/decisions/{_id(decision_id)}/replay",
        Safety.IDEMPOTENT,
        lambda r: parse_replay(_json(r)),
    )


def rulesets() -> Call[list[Ruleset]]:
    return Call("GET", f"{API}/rulesets", Safety.IDEMPOTENT, lambda r: _items(r, parse_ruleset))


def versions(ruleset: str) -> Call[list[Version]]:
    return Call(
        "GET",
        f"{API}/rulesets/{_name(ruleset)}/versions",
        Safety.IDEMPOTENT,
        lambda r: _items(r, parse_version),
    )
