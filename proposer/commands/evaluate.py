"""``rulebook proposer evaluate``: the deterministic proposer measured on real data, through the
real service, in a scratch database (:mod:`proposer.evaluate` says how).

The database is a SQLite file in a temporary directory, migrated with
:func:`rules.store.upgrade` and removed afterwards: nothing touches the configured database.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from proposer.cases import Case, engine_value, resolved_value, review_output
from proposer.choice import points
from proposer.evaluate import REPRODUCE, Evaluation, evaluate
from proposer.induce import Candidate, induce
from rules.cli.output import echo_json, fail, json_option, read_bytes
from rules.cli.service import database_error
from rules.core.document import Document, load_document, parse_document
from rules.core.engine import default_engine
from rules.errors import RulebookError
from rules.store import Database, upgrade
from rules.store.demo import DEMO_CSV, DEMO_RULESET, DEMO_SPEC
from rules.store.history.columns import plan_columns
from rules.store.history.rows import prepare_rows, read_csv

__all__ = [
    "SETTINGS",
    "evaluate_",
    "frontier",
    "frontier_",
    "frontier_lines",
    "proposer",
    "summary_lines",
]

MAX_ROUNDS = 50
# The induction settings the frontier compares: label, keyword arguments of induce().
SETTINGS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "before: new conjunctions only, bar 0.93",
        {"widen": False, "min_precision": 0.93, "novel_precision": 0.93, "max_rules": 5},
    ),
    ("default: bar 0.95, new conjunctions 0.975", {}),
    ("bar 0.94, new conjunctions 0.97", {"min_precision": 0.94}),
    ("bar 0.93, new conjunctions 0.965", {"min_precision": 0.93}),
    ("bar 0.92, new conjunctions 0.96", {"min_precision": 0.92}),
    ("bar 0.90, new conjunctions 0.95", {"min_precision": 0.90}),
    ("bar 0.90, new conjunctions 0.90", {"min_precision": 0.90, "novel_precision": 0.90}),
    ("bar 0.88, new conjunctions 0.88", {"min_precision": 0.88, "novel_precision": 0.88}),
)


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (as when run from a
    checkout), else as given."""
    resolved, here = path.resolve(), Path.cwd()
    return str(resolved.relative_to(here)) if resolved.is_relative_to(here) else str(path)


def _points(before: float, after: float) -> str:
    return f"{before:.1%} -> {after:.1%} ({100 * (after - before):+.1f} points)"


def _pair(automation: float, agreement: float) -> str:
    return f"{points(automation)} / {points(agreement, 2)}"


def _estimate(forecast: Mapping[str, Any] | None) -> str:
    if forecast is None:
        return "(none)"
    a, g = forecast["automation_points"], forecast["agreement_points"]
    return (
        f"{points(a['expected'])} ({points(a['low'])} to {points(a['high'])}) / "
        f"{points(g['expected'], 2)} ({points(g['low'], 2)} to {points(g['high'], 2)})"
    )


def frontier_lines(result: Evaluation) -> list[str]:
    """The first run's proposals: backtest, forecast and held-out change, side by side."""
    lines = [
        f"  frontier of round 1 (ceiling {result.max_loss:g} points of agreement lost), points "
        "of automation / of agreement:"
    ]
    for row in result.frontier:
        data = row.to_dict(result.before)
        held, inside = data["held_out"], data["inside_range"] or {}
        marks = ", ".join(f"{k} {'inside' if v else 'OUTSIDE'}" for k, v in inside.items())
        lines += [
            f"    #{row.proposal_id} {row.role or '-'}: {row.title}",
            f"      backtest (fitted) "
            f"{_pair(row.in_sample['automation_points'], row.in_sample['agreement_points'])}; "
            "expected "
            f"{_estimate(row.forecast)}; held out "
            f"{_pair(held['automation_points'], held['agreement_points'])} ({marks or '-'})",
        ]
    cal = result.calibration()
    lines.append(
        f"  calibration: {cal['inside']} of {cal['intervals']} held-out changes inside the "
        f"stated {0.9:.0%} range ({cal['automation_inside']} of {cal['proposals']} for "
        f"automation, {cal['agreement_inside']} for agreement)"
    )
    return lines


def summary_lines(result: Evaluation) -> list[str]:
    """The evaluation for a person: the frontier, what was accepted, the held-out figures."""
    lines = [
        f"{result.ruleset} on {result.file}: learned from {result.history:,} rows (odd "
        f"case_id), measured on {result.held_out:,} held-out rows (even case_id)",
        *frontier_lines(result),
    ]
    for n, item in enumerate(result.accepted, start=1):
        lines.append(
            f"  round {n}: proposal #{item.proposal_id} accepted as version {item.version} "
            f"({item.impact or '?'} impact, approved by {', '.join(item.approvers)}): "
            f"{item.title}"
        )
    if len(result.accepted) < result.rounds:
        lines.append(f"  round {len(result.accepted) + 1}: the proposer had no proposal; stopped")
    before, after = result.before, result.after
    timing = result.timing
    return [
        *lines,
        f"  automation: {_points(before.automation, after.automation)}",
        f"  agreement with the real outcome: {_points(before.agreement, after.agreement)}",
        f"  protected inputs used: {result.protected_uses} ({', '.join(result.protected)})",
        f"  citations verified: {result.verified:,} of {result.verdicts:,} verdicts",
        f"  time: {timing['total']:.1f} s (setup {timing['setup']:.1f}, propose "
        f"{timing['propose']:.1f}, accept {timing['accept']:.1f}, decide {timing['decide']:.1f})",
    ]


def _write(path: str, data: Any) -> None:
    try:
        Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise click.FileError(path, hint=exc.strerror) from exc


@click.group()
def proposer() -> None:
    """Measure the proposer."""


def _run(data: bytes, file_name: str, rounds: int, max_loss: float | None) -> Evaluation:
    with tempfile.TemporaryDirectory(prefix="rulebook-evaluate-") as folder:
        url = f"sqlite:///{Path(folder) / 'evaluation.sqlite3'}"
        db: Database | None = None
        try:
            upgrade(url)
            db = Database(url)
            return evaluate(db, data, file_name=file_name, rounds=rounds, max_loss=max_loss)
        except SQLAlchemyError as exc:
            raise database_error(exc, url) from exc
        finally:
            if db is not None:
                db.dispose()


@proposer.command("evaluate")
@click.option(
    "--csv",
    "csv_file",
    default=str(DEMO_CSV),
    show_default="the demo's hmda_boston.csv",
    metavar="FILE",
    help="Past cases with their real outcomes, in the demo's columns (case_id, deny, inputs).",
)
@click.option(
    "--rounds",
    type=click.IntRange(1, MAX_ROUNDS),
    default=1,
    show_default=True,
    help="At most this many propose-accept-activate rounds.",
)
@click.option(
    "--max-loss",
    type=click.FloatRange(0, 100),
    metavar="POINTS",
    help="The ceiling on agreement lost, in points (default: "
    "RULEBOOK_PROPOSER_MAX_AGREEMENT_LOSS, else 3).",
)
@click.option("--out", metavar="FILE.json", help="Also write the results, as JSON, to FILE.")
@json_option
def evaluate_(
    csv_file: str, rounds: int, max_loss: float | None, out: str | None, as_json: bool
) -> None:
    """Learn from the odd case_ids, offer the frontier, measure it on the even ones.

    Builds a scratch database, records the demo ruleset as version 1, imports the rows with an
    odd case_id with their real outcomes and runs the deterministic proposer: each proposal's
    candidate decides every even case_id row, beside its backtest and its forecast. The
    proposal expected to automate most is accepted through the review service (two approvers
    when it is high impact) and activated, for up to --rounds rounds; every even case_id row
    is then decided under version 1 and the final version. Reports automation, agreement with
    the real outcome, calibration of the forecasts, protected inputs used and citation
    verdicts."""
    path = Path(csv_file)
    try:
        result = _run(read_bytes(csv_file), path.name, rounds, max_loss)
    except RulebookError as exc:
        fail(exc, as_json)
    shown = out if out is not None else "FILE.json"
    data: dict[str, Any] = {
        "reproduce": REPRODUCE.format(csv=_shown(path), rounds=rounds, out=shown)
        + ("" if max_loss is None else f" --max-loss {max_loss:g}"),
        **result.to_dict(),
    }
    if out is not None:
        _write(out, data)
    if as_json:
        echo_json(data)
    else:
        for line in summary_lines(result):
            click.echo(line)
        if out is not None:
            click.echo(f"  results: {out}")


# --------------------------------------------------------------------------- the frontier


def _cases(doc: Document, data: bytes) -> list[Case]:
    """Every row of ``data`` as a case decided by ``doc``, its real outcome as resolution."""
    header, records = read_csv(data)
    plan = plan_columns(
        doc,
        header,
        outcome_column=DEMO_SPEC.outcome_column,
        id_column=DEMO_SPEC.id_column,
        mapping=DEMO_SPEC.mapping,
    )
    output = plan.output.name
    return [
        Case(
            decision_id=int(str(row.request_id)),
            facts=row.facts,
            outputs=row.result.outputs,
            rule_ids=row.result.rule_ids,
            exception=row.result.exception,
            resolution={output: row.outcome},
        )
        for row in prepare_rows(plan, records, default_engine, doc)
    ]


def _with(doc: Document, candidates: Sequence[Candidate]) -> Document:
    """``doc`` with each candidate inserted before base rule ``position``, in order."""
    data = doc.to_dict()
    base = data["rules"]
    rules: list[Any] = []
    for p in range(len(base) + 1):
        rules += [c.to_dict()["rule"] for c in candidates if c.position == p]
        rules += base[p : p + 1]
    return parse_document({**data, "rules": rules})


def _counts(doc: Document, cases: Sequence[Case]) -> tuple[int, int]:
    """(automated, agreeing with the resolution) among ``cases`` under ``doc``."""
    output = review_output(doc)
    automated = agreed = 0
    for case in cases:
        result = default_engine.evaluate(doc, case.facts)
        if not result.exception:
            automated += 1
            agreed += engine_value(result.outputs, output) == resolved_value(case, output)
    return automated, agreed


def _learned(doc: Document, history: Sequence[Case], settings: dict[str, Any]) -> Document:
    review = set(doc.review.values) if doc.review is not None else set()
    spec = doc.output(review_output(doc))
    targets = [v for v in (spec.values or ()) if v not in review] if spec is not None else []
    found = [c for t in targets for c in induce(doc, history, t, **settings)]
    return _with(doc, found)


def _gain(doc: Document, new: Document, cases: Sequence[Case]) -> tuple[int, int, int, int]:
    return (*_counts(doc, cases), *_counts(new, cases))


def frontier(
    data: bytes,
    shuffles: int = 5,
    folds: int = 4,
    settings: Sequence[tuple[str, dict[str, Any]]] = SETTINGS,
) -> list[dict[str, Any]]:
    """For each of ``settings`` (label, keyword arguments of induce): automation gained and
    agreement changed, in points, cross-validated inside the odd case_ids (``shuffles`` seeded
    shuffles of ``folds`` folds: learn on the other folds, measure on one) and on the even ones
    (learned on all the odd ones)."""
    doc = load_document(DEMO_RULESET.read_bytes())
    cases = _cases(doc, data)
    odd = [c for c in cases if c.decision_id % 2]
    even = [c for c in cases if not c.decision_id % 2]
    splits = []
    for seed in range(shuffles):
        ids = sorted(c.decision_id for c in odd)
        random.Random(seed).shuffle(ids)
        for k in range(folds):
            held = set(ids[k::folds])
            splits.append(
                (
                    [c for c in odd if c.decision_id not in held],
                    [c for c in odd if c.decision_id in held],
                )
            )
    rows = []
    for label, options in settings:
        totals = [0, 0, 0, 0, 0]
        for train, test in splits:
            counts = _gain(doc, _learned(doc, train, options), test)
            totals = [t + n for t, n in zip(totals, (len(test), *counts), strict=True)]
        held_out = _gain(doc, _learned(doc, odd, options), even)
        rows.append(
            {
                "setting": label,
                "induce": options,
                "cross_validated": _change(totals[0], *totals[1:]),
                "held_out": _change(len(even), *held_out),
            }
        )
    return rows


def _change(cases: int, auto0: int, agree0: int, auto1: int, agree1: int) -> dict[str, float]:
    return {
        "automation_gain_points": round(100 * (auto1 - auto0) / cases, 1),
        "agreement_change_points": round(100 * (agree1 / auto1 - agree0 / auto0), 2),
    }


@proposer.command("frontier")
@click.option(
    "--csv",
    "csv_file",
    default=str(DEMO_CSV),
    show_default="the demo's hmda_boston.csv",
    metavar="FILE",
    help="Past cases with their real outcomes, in the demo's columns.",
)
@click.option(
    "--shuffles",
    type=click.IntRange(1, 20),
    default=5,
    show_default=True,
    help="Seeded shuffles of the odd case_ids for cross-validation.",
)
@click.option(
    "--folds", type=click.IntRange(2, 10), default=4, show_default=True, help="Folds per shuffle."
)
@click.option("--out", metavar="FILE.json", help="Also write the table, as JSON, to FILE.")
@json_option
def frontier_(csv_file: str, shuffles: int, folds: int, out: str | None, as_json: bool) -> None:
    """Automation gained against agreement changed, for several induction settings.

    Induction alone (no database): cross-validated inside the odd case_ids, and learned on all
    of them then measured on the even ones."""
    try:
        rows = frontier(read_bytes(csv_file), shuffles, folds)
    except RulebookError as exc:
        fail(exc, as_json)
    shown = _shown(Path(csv_file))
    command = f"rulebook proposer frontier --csv {shown} --shuffles {shuffles} --folds {folds}"
    data = {"reproduce": command, "settings": rows}
    if out is not None:
        _write(out, data)
    if as_json:
        echo_json(data)
        return
    click.echo("points of automation gained / of agreement changed")
    click.echo(f"{'setting':44} {'cross-validated (odd)':>22} {'held out (even)':>22}")
    for row in rows:
        cells = [_cell(row["cross_validated"]), _cell(row["held_out"])]
        click.echo(f"{row['setting']:44} {cells[0]:>22} {cells[1]:>22}")


def _cell(change: dict[str, float]) -> str:
    gain, agree = change["automation_gain_points"], change["agreement_change_points"]
    return f"{gain:+.1f} / {agree:+.2f}"
