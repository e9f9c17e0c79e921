"""``rulebook backtest NAME --candidate FILE``: what a candidate document would have done to the
logged decisions (DESIGN §5), and the report's text form, which ``proposals show`` uses too."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import click

from proposer.backtest import Window
from proposer.backtest import backtest as run_backtest
from rules.cli.output import read_bytes
from rules.cli.service import Cli, service_command
from rules.core.document import load_document
from rules.errors import InvalidRequestError, Problem

__all__ = ["backtest", "backtest_lines"]

SHOWN_CELLS = 20  # transition cells printed per output


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _outputs(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _difference(item: Mapping[str, Any]) -> str:
    base, candidate = item.get("base"), item.get("candidate")
    if isinstance(base, Mapping) and isinstance(candidate, Mapping):
        keys = [k for k in candidate if base.get(k) != candidate.get(k)]
        text = ", ".join(f"{k}: {base.get(k)} -> {candidate.get(k)}" for k in keys)
    else:
        text = f"{_outputs(base)} -> {_outputs(candidate)}"
    resolution = item.get("resolution")
    if resolution:
        text += f" (resolved {_outputs(resolution)})"
    return f"    decision {item['decision_id']}: {text}"


def _transitions(matrix: Mapping[str, Mapping[str, Mapping[str, int]]]) -> Iterator[str]:
    for output, rows in matrix.items():
        cells = sorted(
            ((n, before, after) for before, row in rows.items() for after, n in row.items()),
            key=lambda cell: (cell[1] == cell[2], -cell[0], cell[1], cell[2]),
        )
        yield f"  {output} (base -> candidate: decisions):"
        for n, before, after in cells[:SHOWN_CELLS]:
            mark = "" if before == after else "   changed"
            yield f"    {before} -> {after}: {n:,}{mark}"
        if len(cells) > SHOWN_CELLS:
            yield f"    ... {len(cells) - SHOWN_CELLS} more"


def backtest_lines(report: Mapping[str, Any], listed: int | None = None) -> list[str]:
    """A backtest report (its ``to_dict()`` form) as text, with at most ``listed`` of the
    changed decisions it holds (default: all)."""
    n = report["cases"]
    agree, exc = report["agreement"], report["exceptions"]
    changed = report["changed_decisions"]
    items = changed["items"][:listed]
    lines = [
        f"  decisions replayed   {n:,}",
        f"  changed              {report['changed']:,} ({_rate(report['changed_rate'])})",
        f"  agreement            {agree['before']:,} -> {agree['after']:,} of "
        f"{agree['resolved']:,} resolved ({_rate(agree['before_rate'])} -> "
        f"{_rate(agree['after_rate'])})",
        f"  exceptions           {exc['before']:,} -> {exc['after']:,} "
        f"({_rate(exc['before_rate'])} -> {_rate(exc['after_rate'])})",
        f"  facts not accepted   {report['errors']['before']:,} -> {report['errors']['after']:,}",
        f"  replay mismatches    {report['replay']['mismatches']:,} "
        f"(decided by other versions: {report['replay']['other_versions']:,})",
        "transitions:",
        *_transitions(report["transitions"]),
        f"first changed decisions ({len(items):,} of {changed['total']:,}):",
        *(_difference(item) for item in items),
    ]
    return lines


@click.command("backtest")
@click.argument("name")
@click.option(
    "--candidate",
    "candidate_file",
    required=True,
    metavar="FILE",
    help="The candidate ruleset document (YAML or JSON), with the base's name and outputs.",
)
@click.option("--base", type=int, help="Compare with this version (default: the active one).")
@click.option(
    "--window",
    default="all",
    show_default=True,
    help="Which logged decisions: all, last:N, ids:A-B, since:DATE, until:DATE (comma-joined).",
)
@click.option(
    "--keep",
    type=click.IntRange(0, 100_000),
    default=20,
    show_default=True,
    help="How many changed decisions to list (the count is always complete).",
)
@service_command
def backtest(
    cli: Cli, name: str, candidate_file: str, base: int | None, window: str, keep: int
) -> None:
    """Replay NAME's logged decisions under its base version and a candidate document."""
    spec = Window.parse(window)
    candidate = load_document(read_bytes(candidate_file))
    if candidate.name != name:
        raise InvalidRequestError(
            f"the candidate is named {candidate.name!r}, not {name!r}",
            [Problem("RB940", "candidate.name", f"set the candidate's name to {name!r}")],
        )
    with cli.session() as session:
        report = run_backtest(session, name, candidate, base=base, window=spec, keep=keep).to_dict()
    head = (
        f"{name}: candidate sha256 {report['candidate']['hash'][:12]} against version "
        f"{report['base']['version']}, window {window}"
    )
    cli.emit(report, [head, *backtest_lines(report)])
