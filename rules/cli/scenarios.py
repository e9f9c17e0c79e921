"""``rulebook scenarios add|import|list|run``: a ruleset's test scenarios (DESIGN §4, §5).

``run`` exits 1 when any scenario fails, naming each with what was expected, what the version
or candidate gave, and the rules that decided."""

from __future__ import annotations

import json
import sys

import click

from rules.cli.output import parse_facts, read_bytes
from rules.cli.service import Cli, service_command, when
from rules.core.document import load_document
from rules.core.scenarios import read_scenarios
from rules.store import scenarios as store
from rules.store.versions import get_version

__all__ = ["scenarios"]


@click.group()
def scenarios() -> None:
    """Add, import, list and run a ruleset's test scenarios."""


@scenarios.command("add")
@click.argument("name")
@click.option("--facts", "facts_text", required=True, help="JSON object, or @FILE.")
@click.option(
    "--expect", "expect_text", required=True, help="JSON object of expected outputs, or @FILE."
)
@click.option("--id", "key", help="The scenario's id (default: the next s<N>).")
@click.option("--note", help="Why this case matters.")
@service_command
def add(
    cli: Cli, name: str, facts_text: str, expect_text: str, key: str | None, note: str | None
) -> None:
    """Add a test scenario to ruleset NAME (an audit event)."""
    facts = parse_facts(facts_text, cli.as_json)
    expect = parse_facts(expect_text, cli.as_json, "expect")
    with cli.session() as session:
        added = store.add_scenario(
            session, name, facts, expect, actor=cli.actor, key=key, note=note
        )
    cli.emit(added.to_dict(), [f"added scenario {added.id} to {name}"])


@scenarios.command("import")
@click.argument("name")
@click.argument("file")
@service_command
def import_(cli: Cli, name: str, file: str) -> None:
    """Import scenarios from FILE (.csv, .yaml/.yml/.json, or a DMN TCK .xml test file):
    each is added, or replaces the one with its id; all of them or, on any problem, none."""
    text = read_bytes(file).decode("utf-8")
    with cli.session() as session:
        doc = get_version(session, name).document
        items = read_scenarios(text, file, doc)
        done = store.import_scenarios(session, name, items, actor=cli.actor)
    cli.emit(
        {"ruleset": name, "imported": [s.to_dict() for s in done]},
        [f"imported {len(done)} scenario(s) into {name}"],
    )


@scenarios.command("list")
@click.argument("name")
@service_command
def list_(cli: Cli, name: str) -> None:
    """List ruleset NAME's scenarios."""
    with cli.session() as session:
        found = store.list_scenarios(session, name)
    lines = [
        f"{s.id:<24} expect {json.dumps(s.expect, ensure_ascii=False)}  "
        f"({s.updated_by}, {when(s.updated_at)}){'  ' + s.note if s.note else ''}"
        for s in found
    ]
    cli.emit({"ruleset": name, "items": [s.to_dict() for s in found]}, lines or ["no scenarios"])


@scenarios.command("run")
@click.argument("name")
@click.option("--version", "number", type=int, help="Run under this version (default: active).")
@click.option("--candidate", type=click.Path(), help="Run under this document file instead.")
@service_command
def run(cli: Cli, name: str, number: int | None, candidate: str | None) -> None:
    """Run ruleset NAME's scenarios; exit 1 if any fails."""
    if number is not None and candidate is not None:
        raise click.UsageError("give --version or --candidate, not both")
    doc = load_document(read_bytes(candidate)) if candidate else None
    with cli.session() as session:
        outcomes = store.run_ruleset_scenarios(session, name, doc=doc, version=number)
    failed = [o for o in outcomes if not o.passed]
    what = f"candidate {candidate}" if candidate else f"version {number}" if number else "active"
    lines = [str(o) for o in outcomes]
    lines.append(f"{name} ({what}): {len(outcomes) - len(failed)} passed, {len(failed)} failed")
    cli.emit(
        {
            "ruleset": name,
            "passed": len(outcomes) - len(failed),
            "failed": len(failed),
            "results": [o.to_dict() for o in outcomes],
        },
        lines,
    )
    if failed:
        sys.exit(1)
