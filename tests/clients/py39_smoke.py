"""Run by ``test_py39.py`` under Python 3.9 in a venv holding only the client's wheel and its
locked dependencies (httpx and what it needs): every call against the live server, sync and
async. Prints what it saw as one JSON object.

Usage: python py39_smoke.py URL KEY FACTS_JSON
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from importlib.util import find_spec
from typing import Any

from rulebook_client import AsyncClient, BatchItem, Client, NotFoundError, ValidationError

NAME = "mortgage-approval"


def sync_calls(url: str, key: str, facts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    rid = f"py39-{uuid.uuid4()}"
    with Client(url, key) as rb:
        first = rb.decide(NAME, facts, request_id=rid)
        again = rb.decide(NAME, facts, request_id=rid)
        out["decide"] = [first.created, again.created, again.decision_id == first.decision_id]
        out["outputs"] = first.outputs
        batch = rb.decide_batch(NAME, [facts, BatchItem(facts, f"{rid}-b")])
        out["batch"] = [len(batch), batch[1].request_id == f"{rid}-b"]
        rb.resolve(first.decision_id, {"outcome": "approve"}, note="on 3.9")
        detail = rb.get_decision(first.decision_id)
        out["resolution"] = detail.resolution.note if detail.resolution else None
        out["replay"] = rb.replay(first.decision_id).identical
        out["rulesets"] = [r.name for r in rb.rulesets()]
        out["versions"] = [v.version for v in rb.versions(NAME)]
        try:
            rb.decide(NAME, {**facts, "insurence": False})
        except ValidationError as exc:
            out["invalid"] = sorted([e.field, e.suggestion] for e in exc.errors if e.suggestion)
        try:
            rb.get_decision(2**40)
        except NotFoundError as exc:
            out["missing"] = exc.status
    return out


async def async_calls(url: str, key: str, facts: dict[str, Any]) -> list[bool]:
    async with AsyncClient(url, key) as rb:
        decided = await asyncio.gather(*(rb.decide(NAME, facts) for _ in range(5)))
    return [bool(d.created) for d in decided]


def main() -> None:
    url, key, facts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    out = sync_calls(url, key, facts)
    out["async"] = asyncio.run(async_calls(url, key, facts))
    out["python"] = list(sys.version_info[:2])
    # the venv holds the client and httpx: neither the engine nor the server's packages
    out["installed"] = [find_spec(name) is not None for name in ("rules", "flask", "sqlalchemy")]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
