"""The ``rulebook`` command (DESIGN §4): the group, and the verbs of the pure engine.

``ruleset check`` and ``eval`` (and ``dmn``, :mod:`rules.cli.dmn`) use only the core. The verbs
backed by the system of record (``db``, ``decide``, ``ruleset create`` ...) live in the other
modules of :mod:`rules.cli` and are imported on first use (:class:`~rules.cli.lazy.LazyGroup`),
so importing this module loads no SQLAlchemy. Packages built on ``rules`` contribute verbs
through the ``rulebook.commands`` entry-point group (the review app's ``serve``), since
``rules`` never imports them.
"""

from __future__ import annotations

import json
import sys

import click

from rules.cli.dmn import dmn
from rules.cli.lazy import LazyGroup
from rules.cli.output import echo_json, fail, json_option, load_document_file, parse_facts
from rules.errors import RulebookError, SettingsError
from rules.logs import configure_cli

__all__ = ["COMMANDS", "ENTRY_POINT_GROUP", "RULESET_COMMANDS", "main"]

ENTRY_POINT_GROUP = "rulebook.commands"
# Verbs backed by the system of record: name -> "module:attribute", imported on first use.
COMMANDS = {
    "apikeys": "rules.cli.accounts:apikeys",
    "audit": "rules.cli.audit:audit",
    "db": "rules.cli.db:db",
    "decide": "rules.cli.decisions:decide",
    "demo": "rules.cli.demo:demo",
    "history": "rules.cli.history:history",
    "replay": "rules.cli.decisions:replay",
    "scenarios": "rules.cli.scenarios:scenarios",
    "shadow": "rules.cli.shadow:shadow",
    "users": "rules.cli.accounts:users",
}
RULESET_COMMANDS = {
    name: f"rules.cli.rulesets:{name}_"
    for name in ("activate", "create", "diff", "list", "show", "versions")
}


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    entry_point_group=ENTRY_POINT_GROUP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="rulebook")
def main() -> None:
    """Rulebook: a governed decision service."""
    try:
        configure_cli()  # RULEBOOK_LOG_LEVEL, RULEBOOK_LOG_FORMAT (rules.logs)
    except SettingsError as exc:
        fail(exc, as_json=False)


@main.group(cls=LazyGroup, lazy=RULESET_COMMANDS)
def ruleset() -> None:
    """Check, create, show, diff and activate rulesets."""


@ruleset.command("check")
@click.argument("file")
@json_option
def check(file: str, as_json: bool) -> None:
    """Run the static checks on FILE; exit 1 if any is an error."""
    from rules.core.check import check_document

    doc = load_document_file(file, as_json)
    problems = check_document(doc)
    errors = [p for p in problems if p.severity == "error"]
    if as_json:
        echo_json(
            {
                "file": file,
                "name": doc.name,
                "hash": doc.hash,
                "ok": not errors,
                "problems": [p.as_dict() for p in problems],
            }
        )
    else:
        for p in problems:
            click.echo(f"{file}: {p.severity}: {p}")
        warnings = len(problems) - len(errors)
        click.echo(f"{doc.name}: {len(errors)} error(s), {warnings} warning(s)")
    sys.exit(1 if errors else 0)


@main.command("eval")
@click.argument("file")
@click.option("--facts", "facts_text", required=True, help="JSON object, or @FILE.")
@json_option
def eval_(file: str, facts_text: str, as_json: bool) -> None:
    """Evaluate FILE on facts; nothing is recorded."""
    from rules.core.engine import evaluate

    doc = load_document_file(file, as_json)
    facts = parse_facts(facts_text, as_json)
    try:
        result = evaluate(doc, facts)
    except RulebookError as exc:
        fail(exc, as_json)
    if as_json:
        echo_json({"ruleset": doc.name, "version_hash": doc.hash, **result.to_dict()})
        return
    click.echo(f"outputs:   {json.dumps(result.outputs, ensure_ascii=False)}")
    click.echo(f"rule_ids:  {', '.join(result.rule_ids) or '(defaults)'}")
    click.echo(f"matched:   {', '.join(result.matched) or '(none)'}")
    click.echo(f"exception: {'yes' if result.exception else 'no'}")
    if result.error:
        click.echo(f"error:     {result.error}")
    for rule_id, reason in result.reasons.items():
        click.echo(f"reason:    {rule_id}: {reason}")


main.add_command(dmn)
