"""``rulebook shadow start|stop|report``: a version or a proposal's candidate beside the active
version on every live decision (DESIGN §5); start and stop are audit events."""

from __future__ import annotations

import json

import click

from rules.cli.service import Cli, service_command, when
from rules.store.shadow import ShadowReport, shadow_report, start_shadow, stop_shadow

__all__ = ["report_lines", "shadow"]


@click.group()
def shadow() -> None:
    """Run a version or a proposal's candidate in shadow, and report what it saw."""


@shadow.command("start")
@click.argument("name")
@click.option("--version", "number", type=int, help="Shadow this version of NAME.")
@click.option("--proposal", "proposal_id", type=int, help="Shadow this proposal's candidate.")
@service_command
def start(cli: Cli, name: str, number: int | None, proposal_id: int | None) -> None:
    """Start shadowing NAME's live decisions with a version or a proposal's candidate."""
    if (number is None) == (proposal_id is None):
        raise click.UsageError("give --version N or --proposal ID")
    with cli.session() as session:
        info = start_shadow(session, name, actor=cli.actor, version=number, proposal_id=proposal_id)
    cli.emit(info.to_dict(), [f"{name}: {info.label} runs in shadow from now"])


@shadow.command("stop")
@click.argument("name")
@service_command
def stop(cli: Cli, name: str) -> None:
    """Stop NAME's shadow; its results stay for the report."""
    with cli.session() as session:
        info = stop_shadow(session, name, actor=cli.actor)
    cli.emit(info.to_dict(), [f"{name}: the shadow of {info.label} is stopped"])


def report_lines(report: ShadowReport) -> list[str]:
    info = report.shadow
    state = "running" if info.running else f"stopped {when(info.stopped_at)}"
    lines = [
        f"shadow:      {info.label} of {info.ruleset} ({state}, since {when(info.started_at)})",
        f"seen:        {report.seen} live decisions",
        f"differ:      {report.differing} ({report.errors} the shadow could not evaluate)",
        f"agreement:   {report.resolved} resolved since: live {report.agree_live}, "
        f"shadow {report.agree_shadow} (on {report.output})",
    ]
    for output, rows in report.transitions.items():
        for before, afters in rows.items():
            for after, n in afters.items():
                lines.append(f"  {output}: {before} -> {after}: {n}")
    for example in report.differences[:5]:
        lines.append(f"  decision {example['decision_id']}: {json.dumps(example['shadow'])}")
    return lines


@shadow.command("report")
@click.argument("name")
@service_command
def report(cli: Cli, name: str) -> None:
    """What NAME's shadow (running, else the latest) saw."""
    with cli.session() as session:
        found = shadow_report(session, name)
    cli.emit(found.to_dict(), report_lines(found))
