"""``rulebook audit verify|export``: the tamper-evident audit chain."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import click

from rules import audit as chain
from rules.cli.service import Cli, service_command

__all__ = ["audit"]


@click.group()
def audit() -> None:
    """Verify and export the audit chain."""


@audit.command("verify")
@service_command
def verify(cli: Cli) -> None:
    """Recompute the audit chain; exit 1 and name the first bad event if it was altered."""
    with cli.session() as session:
        result = chain.verify(session)
    if result.ok:
        line = f"audit chain intact: {result.events} event(s)"
    else:
        where = f" at event {result.first_bad_seq}" if result.first_bad_seq else ""
        line = f"audit chain BROKEN{where}: {result.reason}"
    cli.emit(result.to_dict(), [line])
    if not result.ok:
        sys.exit(1)


@audit.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv"]),
    default="json",
    show_default=True,
    help="JSON: a list of events; CSV: one row per event, payload as canonical JSON.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here, not stdout.")
@service_command
def export(cli: Cli, fmt: str, output: str | None) -> None:
    """Export every audit event, with its hashes, for an auditor to check independently."""
    with cli.session() as session:
        text = chain.export(session, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.FileError(output, hint=exc.strerror) from exc
    count = len(json.loads(text)) if fmt == "json" else len(list(csv.reader(io.StringIO(text)))) - 1
    cli.emit(
        {"file": output, "format": fmt, "events": count},
        [f"wrote {count} audit event(s) to {output} ({fmt})"],
    )
