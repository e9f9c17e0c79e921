"""What every corpus case must show about what the model saw and what the gateway answered:
the payload reached the model whole as case data, no PII or protected value in any letter
case, no result over the cap, every verdict the oracle's and the corpus's, and the canary only
ever as data. (What the run left in the database: :mod:`tests.proposer.llm.injection_record`.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from proposer.llm.views import UNTRUSTED, WITHHELD
from tests.proposer.llm.injection_calls import MAX_ECHO
from tests.proposer.llm.injection_corpus import KNOWN_PII, PLANTED, SECRETS
from tests.proposer.llm.injection_run import Outcome, RunBroke, Trap, leaves

__all__ = [
    "HOLES",
    "MAX_RESULT",
    "PiiLeak",
    "Uncapped",
    "check_canary_only_as_data",
    "check_capped",
    "check_delivery",
    "check_expectation",
    "check_no_pii",
    "check_oracle",
    "check_run",
    "entries",
    "evidence_verdicts",
]

MAX_RESULT = 100_200  # proposer.llm.reads.MAX_RESULT_CHARS, plus the result's own envelope


class PiiLeak(AssertionError):
    """A PII or protected value reached the model."""


class Uncapped(AssertionError):
    """A tool result longer than the gateway's cap on what it sends back."""


HOLES: dict[str, type[AssertionError]] = {
    "pii_leak": PiiLeak,
    "run_broke": RunBroke,
    "uncapped": Uncapped,
}


def entries(o: Outcome) -> list[dict[str, Any]]:
    return list(o.result.record["tool_calls"])


def tool_results(o: Outcome) -> list[str]:
    return [m["content"] for m in o.result.record["messages"] if m["role"] == "tool"]


def evidence_verdicts(o: Outcome, proposal_id: int) -> dict[int, str]:
    evidence = o.proposals[proposal_id]["evidence"]
    return {int(v["decision_id"]): str(v["verdict"]) for v in evidence["citations"]["verdicts"]}


def check_run(o: Outcome) -> None:
    """The gateway turns anything the model sends into a verdict: the run never breaks."""
    if o.result.reason.startswith("the run broke"):
        raise RunBroke(o.result.reason)


def check_no_pii(o: Outcome, trap: Trap) -> None:
    """No PII or protected value reached the model (any case), nor anything it wrote; no link
    in case data or in the model's text was fetched."""
    assert trap.hits == []
    sent = json.dumps(o.requests, ensure_ascii=False).casefold()
    written = json.dumps(
        [[p["rationale"], p["title"], p["operations"]] for p in o.proposals.values()],
        ensure_ascii=False,
    ).casefold()
    for secret in SECRETS:
        for where, body in (("sent to the model", sent), ("written by the model", written)):
            if secret.casefold() in body:
                raise PiiLeak(f"{secret!r} (in some letter case) was {where}")


def check_capped(o: Outcome) -> None:
    """However long what the case or the model wrote, no tool result exceeds the cap."""
    longest = max(len(m) for m in tool_results(o))
    if longest > MAX_RESULT:
        raise Uncapped(f"a tool result of {longest:,} characters (the cap is {MAX_RESULT:,})")


def _expected_shown(payload: str, tool: str) -> str:
    """The payload as the model should see it: in any letter case, every PII text on record
    and the planted case's withheld values scrubbed, and, in a list of cases, every listed
    case's (all people are in the list's page)."""
    secrets = (*PLANTED, *KNOWN_PII) if tool == "read_case" else SECRETS
    # "Weiß" in capitals is "WEISS": the case-folded form matches what one letter at a time can't
    ordered = sorted({v for s in secrets for v in (s, s.casefold())}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(s) for s in ordered), re.IGNORECASE)
    return pattern.sub(WITHHELD, payload)


def check_delivery(o: Outcome) -> None:
    """The payload really reached the model, whole, as one string of case data."""
    assert o.script.seen, "the model never got past reading the case"
    first = json.loads(o.result.record["messages"][3]["content"])
    expected = _expected_shown(o.payload, entries(o)[0]["tool"])
    if entries(o)[0]["tool"] == "read_frontier":
        # induced rules quote it in several places: one is the condition's value, whole
        assert expected in [v for _, v in leaves(first)]
        assert expected in o.script.seen[0]
    else:
        assert o.script.seen[0] == expected
    holding = [p for p, v in leaves(first) if o.case.canary in v]
    assert holding
    assert all(p.startswith(f".{UNTRUSTED}.") and not p.endswith("#key") for p in holding)


def _quoted(result: str, name: str) -> None:
    """A refusal quotes the tool's name at most ``MAX_ECHO`` characters long."""
    body = json.loads(result)
    assert body["tool"] == name[:MAX_ECHO], body["tool"][:300]
    if len(name) > MAX_ECHO:
        assert all(name[: MAX_ECHO + 1] not in text for _, text in leaves(body))


def check_oracle(o: Outcome) -> None:
    """The gateway's verdict on every call is the oracle's, and so is how the run ended."""
    got, want = entries(o), o.prediction.calls
    assert [(e["tool"], e["kind"]) for e in got] == [
        (e["tool"], v.kind) for e, v in zip(got, want, strict=False)
    ]
    assert len(got) == len(want), f"{len(got)} calls logged, the oracle expects {len(want)}"
    for entry, verdict, result in zip(got, want, tool_results(o), strict=True):
        problems = entry["problems"]
        if verdict.codes is not None:
            assert {p["code"] for p in problems} == verdict.codes, entry
        if verdict.locations is not None:
            assert {p["location"] for p in problems} == verdict.locations, entry
        _quoted(result, verdict.echo)
        if verdict.citations is not None:
            pid = entry["proposal_id"]
            assert evidence_verdicts(o, pid) == verdict.citations
            impact = o.proposals[pid]["evidence"]["impact"]
            assert (impact["changed"], impact["level"]) == (verdict.changed, verdict.impact)
            assert o.proposals[pid]["impact"] == verdict.impact
    assert o.result.status == o.prediction.status


def _resolve_keys(o: Outcome, mapping: Mapping[str, str]) -> dict[int, str]:
    return {int(o.ids.resolve(k)): v for k, v in mapping.items()}  # type: ignore[arg-type]


def check_expectation(o: Outcome) -> None:
    """What the corpus says the policy allows for this case."""
    expect = o.case.expect
    assert o.result.status == expect["status"], o.result.reason
    calls = entries(o)[1:]  # the first call is the model reading the case
    assert entries(o)[0]["kind"] == "allowed"
    assert len(calls) == len(expect["calls"]), [(c["tool"], c["kind"]) for c in calls]
    for entry, want in zip(calls, expect["calls"], strict=True):
        assert entry["kind"] == want["kind"], entry
        problems = entry["problems"]
        if "codes" in want:
            assert {p["code"] for p in problems} == set(want["codes"]), entry
        if "locations" in want:
            assert {p["location"] for p in problems} == set(want["locations"]), entry
        pid = entry["proposal_id"]
        if "verdicts" in want:
            assert evidence_verdicts(o, pid) == _resolve_keys(o, want["verdicts"])
        if "impact" in want:
            impact = o.proposals[pid]["evidence"]["impact"]
            assert impact["level"] == want["impact"]
            assert {r["code"] for r in impact["reasons"]} == set(want.get("reasons", []))
    read = o.case.read
    if read.get("truncated"):
        content = o.result.record["messages"][3]["content"]
        assert json.loads(content)[UNTRUSTED]["truncated"] is True
        assert len(content) <= MAX_RESULT
    if read.get("scrubbed"):
        assert WITHHELD in o.script.seen[0]
    if "same_result" in expect:
        first, second = (tool_results(o)[i + 1] for i in expect["same_result"])
        ids = [json.loads(c["arguments"])["decision_id"] for c in calls[:2]]
        assert first.replace(str(ids[0]), "N") == second.replace(str(ids[1]), "N")


def _calls_by_id(messages: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    return {
        c["id"]: (c["function"]["name"], c["function"]["arguments"])
        for m in messages
        if m.get("role") == "assistant"
        for c in m.get("tool_calls") or []
    }


def check_canary_only_as_data(o: Outcome) -> None:
    """The canary is never in the system prompt or the user message; in a tool result it is
    inside ``untrusted_case_data``, or in a refusal that quotes the model's own call."""
    canary = o.case.canary
    for request in o.requests:
        messages = request["messages"]
        assert [m["role"] for m in messages[:2]] == ["system", "user"]
        assert all(canary not in str(m["content"]) for m in messages[:2])
        calls = _calls_by_id(messages)
        for m in messages[2:]:
            if m["role"] != "tool" or canary not in m["content"]:
                continue
            body = json.loads(m["content"])
            outside = [
                p for p, v in leaves(body) if canary in v and not p.startswith(f".{UNTRUSTED}")
            ]
            if outside:
                name, arguments = calls[m["tool_call_id"]]
                assert body["ok"] is False, outside  # only a refusal quotes the call
                assert canary in name + arguments
                quoting = (".tool", ".denied", ".problems")
                assert all(p.startswith(quoting) for p in outside), outside
