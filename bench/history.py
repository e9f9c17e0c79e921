"""History import benchmark: ``rulebook history import`` of a large CSV on SQLite and PostgreSQL.

    .venv/bin/python -m bench.history --out bench/results/history.json [--rows 100000]

The file is the demo's: the HMDA ruleset (rules/store/demo/hmda.yaml) and rows drawn at random
(seeded) from rules/store/demo/hmda_boston.csv, each with a fresh case id. Each database gets a
fresh, migrated store (a temporary SQLite file; a schema of its own on PostgreSQL, dropped
afterwards), version 1 of the ruleset, then the import, timed from the raw bytes to the commit:
reading, typing and validating every cell, deciding every row with the engine, the idempotency
lookup, the bulk INSERTs of decisions and resolutions, and the audit event. Then the same file is
imported again (every row already present: the lookup and nothing else), and timed too. PostgreSQL
is measured when ``--postgres URL`` or ``RULEBOOK_TEST_POSTGRES_URL`` gives one.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.schema import pg_schema_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rules.core.document import load_document  # noqa: E402
from rules.store import (  # noqa: E402
    Database,
    upgrade,
    versions,
)
from rules.store.demo import DEMO_CSV, DEMO_RULESET, DEMO_SPEC  # noqa: E402
from rules.store.history import ImportReport, import_csv  # noqa: E402
from rules.store.models import Decision, Resolution  # noqa: E402

SEED = 20240601
SCHEMA = f"rb_bench_history_{os.getpid()}"


def make_csv(rows: int, seed: int = SEED) -> bytes:
    """``rows`` HMDA applications drawn with replacement, numbered 1..rows in ``case_id``."""
    with DEMO_CSV.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        source = list(reader)
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    id_index = header.index("case_id")
    for n in range(1, rows + 1):
        row = list(rng.choice(source))
        row[id_index] = str(n)
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


def _timed_import(db: Database, data: bytes) -> tuple[float, ImportReport]:
    started = time.perf_counter()
    with db.session() as s:
        report = import_csv(s, "mortgage-approval", data, DEMO_SPEC, actor="bench")
    return time.perf_counter() - started, report


def measure(url: str, data: bytes) -> dict[str, Any]:
    """Import ``data`` into a fresh store at ``url``, then again; the timings and counts."""
    upgrade(url)
    db = Database(url)
    try:
        with db.session() as s:
            versions.create_ruleset(s, load_document(DEMO_RULESET.read_bytes()), "bench")
        first, report = _timed_import(db, data)
        again, repeat = _timed_import(db, data)
        with db.session() as s:
            decisions = s.scalar(select(func.count()).select_from(Decision))
            resolutions = s.scalar(select(func.count()).select_from(Resolution))
    finally:
        db.dispose()
    if (decisions, resolutions, repeat.imported) != (report.rows, report.rows, 0):
        raise SystemExit(f"wrong counts: {decisions} decisions, {resolutions} resolutions")
    return {
        "rows": report.rows,
        "seconds": round(first, 3),
        "rows_per_second": round(report.rows / first),
        "reimport_seconds": round(again, 3),
        "automated": report.automated,
        "agreed": report.agreed,
    }


def run(rows: int, postgres: str | None) -> dict[str, Any]:
    data = make_csv(rows)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = measure(f"sqlite:///{folder}/bench.sqlite3", data)
    if postgres:
        try:
            results["postgresql"] = measure(pg_schema_url(postgres, SCHEMA, create=True), data)
        finally:
            pg_schema_url(postgres, SCHEMA, create=False)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/history.json")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("RULEBOOK_TEST_POSTGRES_URL"),
        help="SQLAlchemy URL of a PostgreSQL database (a schema is created and dropped in it).",
    )
    parser.add_argument("--no-postgres", action="store_true", help="Measure SQLite only.")
    args = parser.parse_args(argv)
    results = run(args.rows, None if args.no_postgres else args.postgres)
    report = {
        "benchmark": "history import",
        "rows": args.rows,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for name, r in results.items():
        print(
            f"{name:<11} {r['rows']:>8,} rows in {r['seconds']:6.2f} s = {r['rows_per_second']:>7,}"
            f" rows/s; re-import (all skipped) {r['reimport_seconds']:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
