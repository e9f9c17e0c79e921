"""``history import`` on real databases: the real HMDA file, idempotency, located errors that
abort with nothing written, cell typing, and a 100,000-row file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bench import history as bench
from rules import audit
from rules.cli import main
from rules.core.document import load_document
from rules.errors import ConflictError, InvalidRequestError
from rules.store import Database, decisions, versions
from rules.store.decisions import bulk
from rules.store.demo import DEMO_CSV, DEMO_RULESET
from rules.store.history import ImportReport, ImportSpec, import_csv, importer
from rules.store.history.columns import typed_cell
from rules.store.models import AuditEvent, Decision, Resolution

HMDA = DEMO_CSV
RULESET = DEMO_RULESET
NAME = "mortgage-approval"
SPEC = ImportSpec(
    outcome_column="deny",
    mapping={"yes": "decline", "no": "approve"},
    id_column="case_id",
    file_name="hmda_boston.csv",
)


@pytest.fixture
def hmda(db: Database) -> Database:
    """A database with version 1 of the HMDA ruleset."""
    with db.session() as s:
        versions.create_ruleset(s, load_document(RULESET.read_bytes()), "cli:test")
    return db


def rows(limit: int | None = None) -> list[dict[str, str]]:
    with HMDA.open(newline="") as f:
        found = list(csv.DictReader(f))
    return found[:limit] if limit else found


def to_csv(records: list[dict[str, str]], columns: list[str] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns or list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode()


def load(db: Database, data: bytes, spec: ImportSpec = SPEC) -> ImportReport:
    with db.session() as s:
        return import_csv(s, NAME, data, spec, actor="cli:test")


def count(db: Database, model: Any) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def by_case(db: Database, case_id: str) -> decisions.DecisionRecord:
    with db.session() as s:
        found = s.scalar(select(Decision.id).where(Decision.request_id == case_id))
        assert found is not None
        return decisions.get_decision(s, found)


def test_the_real_hmda_file_imports_once(hmda: Database) -> None:
    result = CliRunner().invoke(
        main,
        [
            *("history", "import", NAME, str(HMDA), "--outcome-column", "deny"),
            *("--map", "yes=decline,no=approve", "--id-column", "case_id", "--json"),
            *("--database-url", hmda.url),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["rows"], report["imported"], report["skipped"]) == (2380, 2380, 0)
    assert (report["automated"], report["agreed"]) == (1150, 1109)
    assert count(hmda, Decision) == count(hmda, Resolution) == 2380

    first = by_case(hmda, "1")  # chist 5: referred to an underwriter, who approved
    assert first.facts["pirat"] == 0.2210000038146972
    assert (first.facts["chist"], first.facts["phist"], first.facts["hschool"]) == (5, False, True)
    assert (first.facts["afam"], first.facts["single"]) == (False, False)
    assert (first.source, first.exception, first.outputs["outcome"]) == ("import", True, "refer")
    assert first.resolution is not None
    assert first.resolution.outputs == {"outcome": "approve"}
    assert (first.resolution.override, first.resolution.source) == (False, "import")
    assert first.resolution.note == "imported from hmda_boston.csv, row 2"

    raw = {r["case_id"]: r for r in rows()}
    disagreed = next(
        r for r in rows() if r["insurance"] == "yes" and r["deny"] == "no"
    )  # the rules decline, the lender approved: an override
    case = by_case(hmda, disagreed["case_id"])
    assert case.outputs["outcome"] == "decline"
    assert case.resolution is not None
    assert case.resolution.override is True
    assert raw[disagreed["case_id"]]["deny"] == "no"

    with hmda.session() as s:
        (event,) = [e for e in audit.events(s) if e.action == "history.imported"]
        assert audit.verify(s).ok
    assert event.payload["rows_imported"] == 2380
    assert event.payload["sha256"] == report["sha256"]
    assert (event.payload["first_decision_id"], event.payload["last_decision_id"]) == (
        report["first_decision_id"],
        report["last_decision_id"],
    )

    again = load(hmda, HMDA.read_bytes())
    assert (again.imported, again.skipped) == (0, 2380)
    assert count(hmda, Decision) == 2380
    assert count(hmda, AuditEvent) == 4  # no event for an import that wrote nothing


def test_only_new_case_ids_are_imported(hmda: Database) -> None:
    load(hmda, to_csv(rows(10)))
    report = load(hmda, to_csv(rows(15)))
    assert (report.imported, report.skipped) == (5, 10)
    assert count(hmda, Decision) == 15
    changed = rows(15)
    changed[3]["pirat"] = "0.99"
    with pytest.raises(InvalidRequestError) as info:
        load(hmda, to_csv(changed))
    assert str(info.value.problems[0]).startswith("RB455 row 5, column case_id: case id '4'")
    assert count(hmda, Decision) == 15


def _problems(db: Database, data: bytes, spec: ImportSpec = SPEC) -> list[str]:
    before = (count(db, Decision), count(db, AuditEvent))
    with pytest.raises(InvalidRequestError) as info:
        load(db, data, spec)
    assert (count(db, Decision), count(db, AuditEvent)) == before  # nothing written
    return [str(p) for p in info.value.problems]


def test_errors_are_located_and_abort_with_nothing_written(hmda: Database) -> None:
    good = rows(20)
    renamed = [{("pirate" if k == "pirat" else k): v for k, v in r.items()} for r in good]
    found = _problems(hmda, to_csv(renamed))
    assert any(p.startswith("RB451 column pirate:") and "'pirat'?" in p for p in found)
    assert "RB452 input pirat: the required input 'pirat' has no column in the file" in found

    bad_cell = [dict(r) for r in good]
    bad_cell[15]["pirat"] = "high"
    bad_cell[3]["phist"] = "maybe"
    bad_cell[7]["chist"] = "9"
    found = _problems(hmda, to_csv(bad_cell))
    assert (
        found[0]
        == "RB453 row 5, column phist: 'maybe' is not a boolean: use yes/no, true/false or 1/0"
    )
    assert "RB402 row 9, column chist: 9 is above the maximum 6" in found
    assert "RB453 row 17, column pirat: 'high' is not a number" in found

    unmapped = [dict(r) for r in good]
    unmapped[1]["deny"] = "yse"
    (problem,) = _problems(hmda, to_csv(unmapped))
    assert problem.startswith("RB454 row 3, column deny: 'yse' is not mapped")
    assert problem.endswith("(did you mean 'yes'?)")

    wrong_map = ImportSpec("deny", {"yes": "reject", "no": "approve"}, id_column="case_id")
    (problem,) = _problems(hmda, to_csv(good), wrong_map)
    assert problem.startswith("RB423 --map yes:")
    assert "'reject' is not one of decline, refer, approve" in problem

    repeated = [*good, dict(good[4])]
    (problem,) = _problems(hmda, to_csv(repeated))
    assert problem == "RB455 row 22, column case_id: case id '5' repeats row 6"

    missing = ImportSpec(outcome_column="denied", id_column="case")
    found = _problems(hmda, to_csv(good), missing)
    assert any(p.startswith("RB452 --outcome-column:") and "'deny'?" in p for p in found)
    assert any(p.startswith("RB452 --id-column:") and "'case_id'?" in p for p in found)


def test_many_bad_rows_are_counted_and_the_first_listed(hmda: Database) -> None:
    bad = [{**r, "lvrat": "n/a"} for r in rows(30)]
    with pytest.raises(InvalidRequestError) as info:
        load(hmda, to_csv(bad))
    assert str(info.value).startswith("30 problem(s) in 30 row(s); the first 20 are listed")
    assert len(info.value.problems) == 20


def test_cells_are_typed_by_their_input(hmda: Database) -> None:
    assert [typed_cell("boolean", t) for t in ("YES", "no", "True", "false", "1", "0")] == [
        True,
        False,
        True,
        False,
        True,
        False,
    ]
    assert (typed_cell("integer", "3"), typed_cell("integer", "3.0")) == (3, 3)
    assert (
        typed_cell("number", "0.5"),
        typed_cell("number", "2"),
        typed_cell("number", "1e-3"),
    ) == (
        0.5,
        2,
        0.001,
    )
    for kind, text in [
        ("integer", "3.5"),
        ("number", "nan"),
        ("number", "1_000"),
        ("boolean", "y"),
    ]:
        with pytest.raises(ValueError, match=repr(text)):
            typed_cell(kind, text)

    records = rows(3)
    records[0]["afam"] = ""  # an optional input left empty: missing
    records[1]["unemp"] = ""  # a required one: an error
    records[2]["condomin"] = " TRUE "
    found = _problems(hmda, to_csv(records))
    assert found == ["RB405 row 3, column unemp: 'unemp' is required (the cell is empty)"]
    del records[1]
    load(hmda, to_csv(records))
    assert "afam" not in by_case(hmda, "1").facts
    assert by_case(hmda, "3").facts["condomin"] is True


def test_ignored_columns_other_outputs_and_no_id_column(hmda: Database) -> None:
    records = [{**r, "branch": "north"} for r in rows(5)]
    unknown = _problems(hmda, to_csv(records))
    assert any(
        p.startswith("RB451 column branch:") and "--ignore-column branch" in p for p in unknown
    )

    spec = ImportSpec(outcome_column="deny", ignore=frozenset({"branch", "case_id"}))
    reason = [{**r, "deny": "Lender's own reason"} for r in records]
    other = ImportSpec(outcome_column="deny", output="reason", ignore=spec.ignore)
    report = load(hmda, to_csv(reason), other)
    assert (report.imported, report.output) == (5, "reason")
    with hmda.session() as s:
        outputs = s.scalars(select(Resolution.outputs)).all()
    assert outputs == [{"reason": "Lender's own reason"}] * 5

    plain = [{**r, "deny": "approve"} for r in records]
    assert load(hmda, to_csv(plain), spec).imported == 5
    assert load(hmda, to_csv(plain), spec).imported == 5  # no case ids: recorded again
    assert count(hmda, Decision) == 15


def test_an_empty_outcome_imports_the_decision_without_a_resolution(hmda: Database) -> None:
    records = rows(4)
    records[2]["deny"] = ""
    report = load(hmda, to_csv(records))
    assert (report.imported, report.unresolved) == (4, 1)
    assert count(hmda, Resolution) == 3
    assert by_case(hmda, "3").resolution is None


@pytest.mark.slow
def test_a_hundred_thousand_rows(hmda: Database) -> None:
    data = bench.make_csv(100_000)
    report = load(hmda, data)
    assert (report.rows, report.imported, report.skipped) == (100_000, 100_000, 0)
    assert count(hmda, Decision) == count(hmda, Resolution) == 100_000
    assert report.last_decision_id is not None
    assert report.first_decision_id is not None
    assert report.last_decision_id - report.first_decision_id == 99_999
    with hmda.session() as s:
        last = s.scalar(select(Decision).where(Decision.id == report.last_decision_id))
        assert last is not None
        assert last.request_id == "100000"
        assert (
            s.scalar(
                select(func.count()).select_from(Resolution).where(Resolution.override.is_(True))
            )
            == report.automated - report.agreed
        )


def test_the_benchmark_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "history.json"
    assert bench.main(["--rows", "300", "--no-postgres", "--out", str(out)]) == 0
    result = json.loads(out.read_text())["results"]["sqlite"]
    assert (result["rows"], result["rows_per_second"] > 0) == (300, True)


def test_a_case_id_recorded_meanwhile_is_a_conflict_on_both_databases(hmda: Database) -> None:
    load(hmda, to_csv(rows(2)))
    with hmda.session() as s:
        (row,) = s.execute(select(Decision).where(Decision.request_id == "1")).scalars()
        copy = {c.name: getattr(row, c.key) for c in Decision.__table__.columns if c.name != "id"}
    with pytest.raises(IntegrityError), hmda.session() as s:
        bulk.insert_decisions(s, [{**copy, "request_id": "2"}])  # as a racing writer would
    assert count(hmda, Decision) == 2


def test_the_demo_ruleset_checks_clean_and_protects_race_and_marital_status() -> None:
    result = CliRunner().invoke(main, ["ruleset", "check", str(RULESET), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["problems"] == []
    doc = load_document(RULESET.read_bytes())
    protected = {i.name for i in doc.inputs if i.protected}
    assert protected == {"afam", "single"}
    with HMDA.open(newline="") as f:
        header = next(csv.reader(f))
    assert {i.name for i in doc.inputs} == set(header) - {"case_id", "deny"}


def test_an_import_racing_another_writer_is_refused_whole(
    hmda: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(hmda, to_csv(rows(2)))
    # as if case 2 were recorded between the import's lookup and its inserts
    monkeypatch.setattr(importer, "existing", lambda *args: iter(()))
    with pytest.raises(ConflictError, match="import the file again"):
        load(hmda, to_csv(rows(5)))
    assert count(hmda, Decision) == 2
