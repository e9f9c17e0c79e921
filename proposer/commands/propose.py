"""``rulebook propose NAME``: run a proposer on a ruleset's log and record its draft proposals.

``--proposer baseline`` (the default) is the deterministic proposer, which needs nothing but
the database. ``--proposer llm`` runs the LLM agent (:mod:`proposer.llm`, imported only
then); with no model configured (``RULEBOOK_LLM_MODEL`` unset) it says so and exits 1.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from proposer.backtest.report import trade_points
from proposer.baseline import MAX_LIMIT, propose_baseline
from proposer.choice import points
from proposer.errors import ProposerError
from proposer.records import ProposalRecord
from rules.cli.service import Cli, service_command
from rules.errors import Problem

__all__ = ["LLM_OK", "ProposerUnavailableError", "propose", "summary_lines", "trade_lines"]

MODEL_VARIABLE = "RULEBOOK_LLM_MODEL"
LLM_OK = ("ok", "no_proposal")  # LLM run statuses that are not failures


class ProposerUnavailableError(ProposerError):
    """The proposer asked for cannot run here (no model configured, or not installed)."""


def summary_lines(record: ProposalRecord) -> list[str]:
    """One proposal in a few lines: id, impact and title; evidence at a glance; what the
    backtest measured and, apart, what is expected out of sample."""
    evidence = record.evidence or {}
    cited = evidence.get("citations", {})
    impact = evidence.get("impact", {})
    agree = evidence.get("backtest", {}).get("agreement", {})
    lines = [
        f"#{record.id} [{record.impact or '?'} impact, {record.status}] {record.title}",
        f"    base v{record.base}; citations verified {cited.get('verified', 0)}/"
        f"{cited.get('total', 0)}; {impact.get('output', 'outcome')} changes in "
        f"{impact.get('changed', 0):,} of {impact.get('cases', 0):,} decisions; agreement "
        f"{agree.get('before', 0):,} -> {agree.get('after', 0):,}",
    ]
    return lines + trade_lines(evidence)


def trade_lines(evidence: Mapping[str, Any]) -> list[str]:
    """The backtest's trade (fitted) and the forecast's (expected, with its range)."""
    lines = []
    measured = trade_points(evidence.get("backtest"))
    if measured is not None:
        lines.append(
            f"    backtest (fitted, in sample): {points(measured[0])} pts automation, "
            f"{points(measured[1], 2)} pts agreement"
        )
    forecast = evidence.get("forecast")
    if isinstance(forecast, Mapping) and forecast.get("kind") == "out_of_sample_estimate":
        a, g = forecast["automation_points"], forecast["agreement_points"]
        lines.append(
            f"    expected out of sample ({forecast['level']:.0%} range, "
            f"{forecast['method'].replace('_', ' ')}): {points(a['expected'])} pts automation "
            f"({points(a['low'])} to {points(a['high'])}), {points(g['expected'], 2)} pts "
            f"agreement ({points(g['low'], 2)} to {points(g['high'], 2)})"
        )
    return lines


def _listing(records: Sequence[ProposalRecord], empty: str) -> list[str]:
    lines = [line for record in records for line in summary_lines(record)]
    return lines or [empty]


def _llm(cli: Cli, name: str, limit: int) -> None:
    if not os.environ.get(MODEL_VARIABLE, "").strip():
        raise ProposerUnavailableError(
            "no LLM is configured",
            [
                Problem(
                    "RB945",
                    MODEL_VARIABLE,
                    f"set {MODEL_VARIABLE} (e.g. openai/gpt-4o-mini or ollama/llama3.1), "
                    "or use --proposer baseline, which needs no model",
                )
            ],
        )
    try:
        run_llm_proposer = importlib.import_module("proposer.llm").run_llm_proposer
    except (ImportError, AttributeError) as exc:
        raise ProposerUnavailableError(
            f"the LLM proposer cannot be loaded ({exc})",
            [Problem("RB945", "--proposer", "use --proposer baseline, which needs no model")],
        ) from exc
    result: Any = run_llm_proposer(cli.db, name, actor=cli.actor, limit=limit)
    records: tuple[ProposalRecord, ...] = tuple(result.proposals)
    head = f"{name}: LLM run {result.status}" + (f" ({result.reason})" if result.reason else "")
    cli.emit(result.to_dict(), [head, *_listing(records, "no proposal")])
    if result.status not in LLM_OK:
        sys.exit(1)


@click.command("propose")
@click.argument("name")
@click.option(
    "--proposer",
    "kind",
    type=click.Choice(["baseline", "llm"]),
    default="baseline",
    show_default=True,
    help="baseline: rule induction from resolved exceptions (offline); llm: the LLM agent.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LIMIT),
    help="At most this many proposals (default: 5 for baseline, 3 for llm).",
)
@click.option(
    "--window",
    help="Learn from these logged decisions (baseline only): all, last:N, ids:A-B, since:DATE.",
)
@click.option(
    "--max-loss",
    type=click.FloatRange(0, 100),
    metavar="POINTS",
    help="The boldest proposal's ceiling on agreement lost, in points (baseline only; "
    "default: RULEBOOK_PROPOSER_MAX_AGREEMENT_LOSS, else 3).",
)
@service_command
def propose(
    cli: Cli,
    name: str,
    kind: str,
    limit: int | None,
    window: str | None,
    max_loss: float | None,
) -> None:
    """Draft rule-change proposals for NAME from its logged decisions, with evidence.

    The baseline proposer offers a frontier: a conservative change (no agreement lost in its
    backtest) and bolder ones up to the ceiling on agreement lost, for each outcome, each
    titled with what it is expected to trade out of sample."""
    if kind == "llm":
        if window is not None or max_loss is not None:
            raise click.UsageError("--window and --max-loss apply to --proposer baseline only")
        _llm(cli, name, limit or 3)
        return
    with cli.session() as session:
        records = propose_baseline(
            session, name, limit=limit or 5, window=window, actor=cli.actor, max_loss=max_loss
        )
    head = f"{name}: {len(records)} draft proposal(s) by the baseline proposer"
    data = {"ruleset": name, "proposer": "baseline", "proposals": [r.to_dict() for r in records]}
    empty = "  the log supports no new rule (or each is already proposed)"
    cli.emit(data, [head, *_listing(records, empty)])
