"""``rulebook decide`` and ``rulebook replay``: recorded decisions from the shell."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from rules.cli.output import parse_facts
from rules.cli.service import Cli, service_command
from rules.store import decisions
from rules.store.decisions import DecisionRecord, Replay

__all__ = ["decide", "replay"]

# How many differing decisions ``replay --all --json`` lists in full.
MAX_LISTED = 100


def _decision_lines(record: DecisionRecord, created: bool) -> list[str]:
    repeat = "" if created else f" (request_id {record.request_id!r} seen before: stored decision)"
    lines = [
        f"decision:  {record.id}{repeat}",
        f"ruleset:   {record.ruleset} version {record.version}",
        f"outputs:   {json.dumps(record.outputs, ensure_ascii=False)}",
        f"rule_ids:  {', '.join(record.rule_ids) or '(defaults)'}",
        f"matched:   {', '.join(record.matched) or '(none)'}",
        f"exception: {'yes' if record.exception else 'no'}",
    ]
    if record.error:
        lines.append(f"error:     {record.error}")
    return lines


@click.command()
@click.argument("name")
@click.option("--facts", "facts_text", required=True, help="JSON object, or @FILE.")
@click.option("--version", "number", type=int, help="Decide with this version, not the active one.")
@click.option("--request-id", help="Idempotency key: repeating it returns the stored decision.")
@service_command
def decide(
    cli: Cli, name: str, facts_text: str, number: int | None, request_id: str | None
) -> None:
    """Decide facts with a ruleset and record the decision.

    The decision is recorded as an API call's is, by the same service, with source `cli`."""
    facts = parse_facts(facts_text, cli.as_json)
    record, created = decisions.DecisionService(cli.db).decide(
        name, facts, version=number, request_id=request_id, caller=cli.actor, source="cli"
    )
    cli.emit({**record.to_dict(), "created": created}, _decision_lines(record, created))


def _differs(r: Replay) -> list[str]:
    lines = [f"decision {r.decision_id}: DIFFERS in {', '.join(r.differences)}"]
    for key in r.differences:
        lines.append(f"  {key}: stored   {json.dumps(r.stored[key], ensure_ascii=False)}")
        lines.append(f"  {key}: replayed {json.dumps(r.replayed[key], ensure_ascii=False)}")
    return lines


def _replay_one(cli: Cli, decision_id: int) -> bool:
    with cli.session() as session:
        result = decisions.replay(session, decision_id)
    lines = [f"decision {decision_id}: identical"] if result.identical else _differs(result)
    cli.emit(result.to_dict(), lines)
    return result.identical


def _replay_all(cli: Cli, name: str) -> bool:
    total = same = 0
    listed: list[dict[str, Any]] = []
    with cli.session() as session:
        for result in decisions.replay_all(session, name):
            total += 1
            if result.identical:
                same += 1
                continue
            if len(listed) < MAX_LISTED:
                listed.append(result.to_dict())
            if not cli.as_json:
                click.echo("\n".join(_differs(result)))
    data = {
        "ruleset": name,
        "replayed": total,
        "identical": same,
        "different": total - same,
        "differences": listed,
    }
    summary = f"{name}: replayed {total} decision(s): {same} identical, {total - same} different"
    cli.emit(data, [summary])
    return same == total


@click.command()
@click.argument("decision_id", type=int, required=False)
@click.option("--all", "all_of", metavar="NAME", help="Replay every decision of ruleset NAME.")
@service_command
def replay(cli: Cli, decision_id: int | None, all_of: str | None) -> None:
    """Replay stored decisions; exit 1 if any differs.

    Re-evaluates DECISION_ID, or every decision of a ruleset with --all, under the version
    that made it, and compares the result with the stored one."""
    if all_of is not None and decision_id is None:
        identical = _replay_all(cli, all_of)
    elif decision_id is not None and all_of is None:
        identical = _replay_one(cli, decision_id)
    else:
        raise click.UsageError("give exactly one of DECISION_ID and --all NAME")
    if not identical:
        sys.exit(1)
