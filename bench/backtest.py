"""Backtest benchmark: a candidate replayed over a million logged decisions.

    .venv/bin/python -m bench.backtest --out bench/results/backtest.json [--rows 1000000]
        [--postgres URL] [--sqlite] [--distinct] [--profile]

The log is the demo's: the HMDA ruleset (rules/store/demo/hmda.yaml) as version 1, and ``--rows``
decisions whose facts are rows drawn at random (seeded) from rules/store/demo/hmda_boston.csv, each
decided by the engine and resolved with the lender's decision from the file's ``deny`` column, as
``rulebook history import`` records them, one second apart. They are bulk-loaded (PostgreSQL COPY
through :mod:`rules.store.decisions.bulk`), untimed. The file has 2,380 rows, so facts repeat and
the backtest's evaluation cache does most of the work; ``--distinct`` also measures a log whose fact
sets are all unique (``unemp``, which no rule reads, gets a tiny offset per row), where the cache
never hits: the worst case, every decision evaluated twice.

Timed: :func:`proposer.backtest.backtest` of a candidate that raises the clean-credit rule's
debt ratio limit (``pirat <= 0.36`` to ``<= 0.40``) against version 1, over every decision, from
the call to the report: streaming the log, evaluating under both documents, tallying. Each
load and each backtest runs in a fresh process, so the peak RSS reported (``ru_maxrss``) is the
backtest's own. PostgreSQL is
required (``--postgres`` or ``RULEBOOK_TEST_POSTGRES_URL``, else the local test database; a
schema of its own, dropped afterwards); ``--sqlite`` measures a temporary SQLite file too.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import json
import multiprocessing
import os
import platform
import pstats
import random
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.schema import pg_schema_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proposer.backtest import backtest  # noqa: E402
from rules.core.document import Document, load_document, parse_document  # noqa: E402
from rules.core.engine import CompiledRuleset  # noqa: E402
from rules.store import (  # noqa: E402
    Database,
    upgrade,
    versions,
)
from rules.store.decisions.bulk import insert_decisions, insert_resolutions  # noqa: E402
from rules.store.demo import DEMO_CSV, DEMO_RULESET, DEMO_SPEC  # noqa: E402
from rules.store.history.columns import plan_columns  # noqa: E402
from rules.store.history.rows import Row, prepare_rows  # noqa: E402

SEED = 20240601
SCHEMA = f"rb_bench_backtest_{os.getpid()}"
CHUNK = 50_000  # decisions generated and inserted per transaction
START = datetime(2026, 1, 1, tzinfo=UTC)
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def candidate_of(base: Document) -> Document:
    """The base with approve-clean-credit's ``pirat <= 0.36`` raised to ``0.40``."""
    data = base.to_dict()
    for rule in data["rules"]:
        if rule["id"] == "approve-clean-credit":
            for cond in rule["when"]["all"]:
                if cond["input"] == "pirat":
                    cond["value"] = 0.40
    return parse_document(data)


def source_rows(doc: Document) -> list[Row]:
    """The demo file's rows, typed, validated and decided."""
    with DEMO_CSV.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = [c.strip() for c in next(reader)]
        records = list(reader)
    plan = plan_columns(
        doc,
        header,
        outcome_column=DEMO_SPEC.outcome_column,
        id_column=DEMO_SPEC.id_column,
        mapping=DEMO_SPEC.mapping,
    )
    compiled = CompiledRuleset(doc)
    try:
        return prepare_rows(plan, records, _Decider(compiled), doc)  # type: ignore[arg-type]
    finally:
        compiled.close()


class _Decider:
    """The one Engine method prepare_rows calls, on a compiled ruleset of our own."""

    def __init__(self, compiled: CompiledRuleset) -> None:
        self.compiled = compiled

    def decide(self, doc: Document, facts: object) -> tuple[dict[str, Any], Any]:
        clean = self.compiled.validate(facts)
        return clean, self.compiled.evaluate(clean)


def _chunk(
    rng: random.Random,
    rows: list[Row],
    first: int,
    count: int,
    target: dict[str, Any],
    distinct: bool,
) -> tuple[list[dict[str, Any]], list[Row]]:
    picked = [rng.choice(rows) for _ in range(count)]
    decided = []
    for n, row in enumerate(picked, start=first):
        facts = dict(row.facts)
        if distinct:
            facts["unemp"] = round(float(facts["unemp"] or 0) + n * 1e-7, 7)
        r = row.result
        decided.append(
            {
                **target,
                "facts": facts,
                "outputs": r.outputs,
                "rule_ids": list(r.rule_ids),
                "matched": list(r.matched),
                "exception": r.exception,
                "error": r.error,
                "request_id": None,
                "api_key_id": None,
                "caller": "bench",
                "source": "import",
                "decided_at": START + timedelta(seconds=n),
            }
        )
    return decided, picked


def _resolutions(picked: list[Row], ids: list[int], first: int) -> list[dict[str, Any]]:
    out = []
    for n, (row, decision_id) in enumerate(zip(picked, ids, strict=True), start=first):
        outputs = row.result.outputs
        automated = not row.result.exception and isinstance(outputs, dict)
        out.append(
            {
                "decision_id": decision_id,
                "outputs": {"outcome": row.outcome},
                "override": automated and outputs.get("outcome") != row.outcome,  # type: ignore[union-attr]
                "note": None,
                "actor": "bench",
                "source": "import",
                "resolved_at": START + timedelta(seconds=n, milliseconds=500),
            }
        )
    return out


def load(db: Database, doc: Document, total: int, distinct: bool) -> None:
    """Version 1 of the ruleset and ``total`` decided, resolved decisions."""
    with db.session() as s:
        info = versions.create_ruleset(s, doc, "bench")
        ruleset_id = s.scalar(text("SELECT id FROM rulesets WHERE name = :n"), {"n": doc.name})
        version_id = s.scalar(
            text("SELECT id FROM versions WHERE ruleset_id = :r AND number = 1"), {"r": ruleset_id}
        )
    target = {
        "ruleset_id": ruleset_id,
        "version_id": version_id,
        "version_number": info.number,
        "version_hash": info.hash,
    }
    rows, rng = source_rows(doc), random.Random(SEED)
    for first in range(0, total, CHUNK):
        count = min(CHUNK, total - first)
        decided, picked = _chunk(rng, rows, first, count, target, distinct)
        with db.session() as s:
            ids = insert_decisions(s, decided)
            insert_resolutions(s, _resolutions(picked, ids, first))
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            conn.execute(text("ANALYZE decisions"))
            conn.execute(text("ANALYZE resolutions"))
            conn.commit()


def timed(url: str, profile: bool) -> dict[str, Any]:
    """Backtest the candidate over the whole log at ``url``: the figures, in this process."""
    db = Database(url)
    doc = load_document(DEMO_RULESET.read_bytes())
    candidate = candidate_of(doc)
    profiler = cProfile.Profile() if profile else None
    try:
        with db.session() as s:
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            report = backtest(s, doc.name, candidate, base=1)
            if profiler:
                profiler.disable()
            seconds = time.perf_counter() - started
    finally:
        db.dispose()
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    if report.mismatches:
        raise SystemExit(f"{report.mismatches} decisions did not replay as stored")
    figures = report.to_dict()
    return {
        "rows": report.cases,
        "seconds": round(seconds, 3),
        "rows_per_second": round(report.cases / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "changed": report.changed,
        "agreement": figures["agreement"],
        "exceptions": figures["exceptions"],
        "transitions": {"outcome": figures["transitions"]["outcome"]},
    }


def loaded(url: str, total: int, distinct: bool) -> float:
    """Migrate ``url`` and load the log; the seconds it took."""
    started = time.perf_counter()
    upgrade(url)
    db = Database(url)
    try:
        load(db, load_document(DEMO_RULESET.read_bytes()), total, distinct)
    finally:
        db.dispose()
    return time.perf_counter() - started


def _child(function: Any, *args: Any) -> Any:
    """``function(*args)`` in a fresh process, so each backtest's peak RSS is its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def measure(url: str, total: int, distinct: bool, profile: bool) -> dict[str, Any]:
    load_seconds = _child(loaded, url, total, distinct)
    figures: dict[str, Any] = _child(timed, url, profile)
    if figures["rows"] != total:
        raise SystemExit(f"{figures['rows']} decisions backtested, {total} loaded")
    return {**figures, "load_seconds": round(load_seconds, 1)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for distinct in (False, True) if args.distinct else (False,):
        suffix = " distinct" if distinct else ""
        schema = f"{SCHEMA}_{int(distinct)}"
        try:
            url = pg_schema_url(args.postgres, schema, create=True)
            results["postgresql" + suffix] = measure(url, args.rows, distinct, args.profile)
        finally:
            pg_schema_url(args.postgres, schema, create=False)
        if args.sqlite:
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{folder}/bench.sqlite3"
                results["sqlite" + suffix] = measure(url, args.rows, distinct, args.profile)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/backtest.json")
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
    parser.add_argument("--profile", action="store_true", help="Print a cProfile of each run.")
    args = parser.parse_args(argv)
    results = run(args)
    report = {
        "benchmark": "backtest",
        "rows": args.rows,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for name, r in results.items():
        print(
            f"{name:<20} {r['rows']:>9,} decisions backtested in {r['seconds']:6.2f} s ="
            f" {r['rows_per_second']:>7,}/s, peak RSS {r['peak_rss_mb']} MB"
            f" (load {r['load_seconds']} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
