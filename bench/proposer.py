"""Proposer benchmark: the deterministic proposer over a million logged decisions.

    .venv/bin/python -m bench.proposer --out bench/results/proposer.json [--rows 1000000]
        [--postgres URL] [--sqlite] [--distinct]

The log is the backtest benchmark's (:mod:`bench.backtest`): the HMDA demo ruleset as version
1 and ``--rows`` decisions whose facts are rows drawn at random (seeded) from
rules/store/demo/hmda_boston.csv, each decided by the engine and resolved with the lender's
decision, as
``rulebook history import`` records them, bulk-loaded untimed. ``--distinct`` also measures a
log whose fact sets are all unique (``unemp``, which no rule reads, gets a tiny offset per
row): nothing repeats, so the sample's groups come from binning alone.

Timed, each in a fresh process so that its peak RSS (``ru_maxrss``) is its own:

* ``propose``: :func:`proposer.propose_baseline` with its defaults (up to 5 proposals, the
  ceiling of 3 points), from the call to the recorded drafts: the streamed read of the log,
  induction along the ladder with the forecast's five folds, and drafting each proposal
  (citations checked, a full backtest of the log, static checks, the audit event);
* ``frontier``: the same run's parts, apart: reading the log into a sample
  (:func:`proposer.sample.read_sample`), then learning and forecasting every recipe and
  choosing the offers (:func:`proposer.frontier.offers`, :func:`proposer.choice.choose`).

PostgreSQL is required (``--postgres`` or ``RULEBOOK_TEST_POSTGRES_URL``, else the local test
database; a schema of its own, dropped afterwards); ``--sqlite`` measures a temporary SQLite
file too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.backtest import DEFAULT_PG, _child, loaded
from bench.schema import pg_schema_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proposer import propose_baseline  # noqa: E402
from proposer.backtest import Window  # noqa: E402
from proposer.choice import choose, loses_at_most  # noqa: E402
from proposer.forecast import BLOCKS  # noqa: E402
from proposer.frontier import offers, targets_of  # noqa: E402
from proposer.sample import read_sample  # noqa: E402
from proposer.settings import DEFAULT_MAX_AGREEMENT_LOSS  # noqa: E402
from proposer.weights import Weights  # noqa: E402
from rules.core.document import load_document  # noqa: E402
from rules.store import Database  # noqa: E402
from rules.store.demo import DEMO_RULESET  # noqa: E402

SCHEMA = f"rb_bench_proposer_{os.getpid()}"


def _rss() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def frontier(url: str) -> dict[str, Any]:
    """The frontier's parts, timed apart, in this process."""
    db = Database(url)
    doc = load_document(DEMO_RULESET.read_bytes())
    try:
        with db.session() as s:
            started = time.perf_counter()
            sample = read_sample(s, doc.name, doc, Window(), blocks=BLOCKS)
            read = time.perf_counter() - started
        started = time.perf_counter()
        ceiling = DEFAULT_MAX_AGREEMENT_LOSS
        found = offers(sample, keep=lambda o: loses_at_most(o.in_sample, ceiling))
        chosen = choose(found, targets_of(doc, sample), ceiling, Weights.of(sample.part().weights))
        learned = time.perf_counter() - started
    finally:
        db.dispose()
    return {
        "cases": sample.cases,
        "groups": len(sample.groups),
        "read_seconds": round(read, 1),
        "learn_and_forecast_seconds": round(learned, 1),
        "recipes": len(found),
        "offered": [
            {
                "role": o.role,
                "recipe": repr(o.recipe),
                "in_sample_automation_points": round(o.in_sample.automation_points, 2),
                "in_sample_agreement_points": round(o.in_sample.agreement_points, 2),
                "expected": None
                if o.forecast is None
                else o.forecast.to_dict()["automation_points"],
            }
            for o in chosen
        ],
        "peak_rss_mb": _rss(),
    }


def propose(url: str) -> dict[str, Any]:
    """``propose_baseline`` on the whole log, timed, in this process."""
    db = Database(url)
    try:
        with db.session() as s:
            started = time.perf_counter()
            records = propose_baseline(s, "mortgage-approval", actor="bench")
            seconds = time.perf_counter() - started
    finally:
        db.dispose()
    return {
        "seconds": round(seconds, 1),
        "proposals": [
            {
                "title": r.title,
                "role": (r.run or {}).get("role"),
                "rules": len(r.operations),
                "citations_verified": (r.evidence or {}).get("citations", {}).get("verified"),
                "backtested": (r.evidence or {}).get("backtest", {}).get("cases"),
            }
            for r in records
        ],
        "peak_rss_mb": _rss(),
    }


def measure(url: str, total: int, distinct: bool) -> dict[str, Any]:
    load_seconds = _child(loaded, url, total, distinct)
    parts: dict[str, Any] = _child(frontier, url)
    whole: dict[str, Any] = _child(propose, url)
    if parts["cases"] != total:
        raise SystemExit(f"{parts['cases']} decisions read, {total} loaded")
    return {"rows": total, "propose": whole, "frontier": parts, "load_seconds": round(load_seconds)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for distinct in (False, True) if args.distinct else (False,):
        suffix = " distinct" if distinct else ""
        schema = f"{SCHEMA}_{int(distinct)}"
        try:
            url = pg_schema_url(args.postgres, schema, create=True)
            results["postgresql" + suffix] = measure(url, args.rows, distinct)
        finally:
            pg_schema_url(args.postgres, schema, create=False)
        if args.sqlite:
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{folder}/bench.sqlite3"
                results["sqlite" + suffix] = measure(url, args.rows, distinct)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/proposer.json")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("RULEBOOK_TEST_POSTGRES_URL", DEFAULT_PG),
        help="SQLAlchemy URL of a PostgreSQL database (a schema is created and dropped in it).",
    )
    parser.add_argument("--sqlite", action="store_true", help="Measure a SQLite file too.")
    parser.add_argument(
        "--distinct", action="store_true", help="Also measure a log whose fact sets are all unique."
    )
    args = parser.parse_args(argv)
    results = run(args)
    report = {
        "benchmark": "proposer",
        "rows": args.rows,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for name, r in results.items():
        f, p = r["frontier"], r["propose"]
        print(
            f"{name:<20} {r['rows']:>9,} decisions: propose {p['seconds']} s, peak RSS "
            f"{p['peak_rss_mb']} MB, {len(p['proposals'])} proposals (read {f['read_seconds']} s, "
            f"learn and forecast {f['learn_and_forecast_seconds']} s on {f['groups']:,} groups; "
            f"load {r['load_seconds']} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
