"""``rulebook history import``: bring past decisions and their outcomes in from a CSV file."""

from __future__ import annotations

from pathlib import Path

import click

from rules.cli.output import read_bytes
from rules.cli.service import Cli, service_command
from rules.store.history import ImportReport, ImportSpec, import_csv, parse_map

__all__ = ["history", "report_lines"]


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def report_lines(report: ImportReport) -> list[str]:
    """What an import did, for a person."""
    if not report.imported:
        return [
            f"nothing imported: all {report.rows:,} row(s) of {report.file} are already "
            f"recorded for {report.ruleset}"
        ]
    referred = report.imported - report.automated
    automated = f"{report.automated:,} ({_share(report.automated, report.imported)})"
    lines = [
        f"imported {report.imported:,} row(s) of {report.file} into {report.ruleset} "
        f"version {report.version} as decisions {report.first_decision_id}-"
        f"{report.last_decision_id}",
        f"  decided automatically: {automated}; "
        f"the recorded {report.output} agrees with {report.agreed:,} of them "
        f"({_share(report.agreed, report.automated)})",
        f"  exceptions (for review): {referred:,}",
    ]
    if report.unresolved:
        lines.append(f"  rows with no recorded outcome (no resolution): {report.unresolved:,}")
    if report.skipped:
        lines.append(f"  skipped {report.skipped:,} row(s) already recorded (same case id)")
    return lines


@click.group()
def history() -> None:
    """Import past decisions with their real outcomes."""


@history.command("import")
@click.argument("name")
@click.argument("csv_file", metavar="CSV")
@click.option("--outcome-column", required=True, help="The column holding the real outcome.")
@click.option(
    "--map",
    "mapping",
    metavar="VALUE=OUTCOME,...",
    help="Translate the outcome column's values, e.g. yes=decline,no=approve.",
)
@click.option(
    "--id-column",
    help="A column identifying each case: its value is the request_id, so re-importing skips it.",
)
@click.option("--output", help="The output the outcome is for (default: the review output).")
@click.option(
    "--ignore-column",
    "ignore",
    multiple=True,
    metavar="COL",
    help="A column that is not an input; repeat for several.",
)
@service_command
def import_(
    cli: Cli,
    name: str,
    csv_file: str,
    outcome_column: str,
    mapping: str | None,
    id_column: str | None,
    output: str | None,
    ignore: tuple[str, ...],
) -> None:
    """Import a CSV file of past cases and their outcomes.

    Each row of CSV becomes a decision of ruleset NAME's active version (source `import`),
    and its outcome column that decision's human resolution. Nothing is written unless every
    row is right."""
    data = read_bytes(csv_file)
    spec = ImportSpec(
        outcome_column=outcome_column,
        mapping=parse_map(mapping),
        id_column=id_column,
        output=output,
        ignore=frozenset(ignore),
        file_name=Path(csv_file).name,
    )
    if id_column is None:
        cli.note("no --id-column: importing this file again would record its rows again")
    with cli.session() as session:
        report = import_csv(session, name, data, spec, actor=cli.actor)
    cli.emit(report.to_dict(), report_lines(report))
