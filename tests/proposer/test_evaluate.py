"""``rulebook proposer evaluate`` on the real HMDA data, and the evaluation pipeline on both
databases: the figures are recomputed here from what the JSON says happened (the accepted
operations rebuild the final version, byte for byte, each frontier proposal's operations
rebuild its candidate, and the held-out rows are decided again), never taken on trust; the
issue's acceptance (at least three proposals, +25 points held out within 3 points of agreement
lost, a conservative proposal that loses nothing) and the calibration count are recomputed
too; errors name the row or column and write nothing."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from proposer.commands.evaluate import SETTINGS, frontier
from proposer.evaluate import ANALYST, APPROVERS, evaluate
from rules import audit
from rules.cli import main
from rules.core.document import Document, load_document, parse_document
from rules.core.engine import Engine
from rules.store import Database
from rules.store.demo import DEMO_CSV, DEMO_RULESET

PROTECTED = {"afam", "single"}


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["proposer", "evaluate", *args])


def held_out_rows() -> list[dict[str, str]]:
    with DEMO_CSV.open(newline="") as f:
        return [r for r in csv.DictReader(f) if not int(r["case_id"]) % 2]


def with_operations(doc: Document, operations: list[dict[str, Any]]) -> Document:
    """``doc`` with each ``add_rule`` applied in order (the rule at its position)."""
    for op in operations:
        assert op["op"] == "add_rule", op
        data = doc.to_dict()
        data["rules"].insert(op["position"], op["rule"])
        doc = parse_document(data)
    return doc


def rebuilt(accepted: list[dict[str, Any]]) -> Document:
    """Version 1 with each accepted proposal's operations applied, in order."""
    doc = load_document(DEMO_RULESET.read_bytes())
    for item in accepted:
        doc = with_operations(doc, item["operations"])
    return doc


def held_out_figures(doc: Document) -> tuple[int, int, int]:
    """(cases, automated, agreeing with the lender) of the even case_id rows under ``doc``."""
    engine, base = Engine(), load_document(DEMO_RULESET.read_bytes())
    automated = agreed = 0
    rows = held_out_rows()
    for row in rows:
        facts = {s.name: typed(s.type, row[s.name]) for s in base.inputs}
        result = engine.evaluate(doc, facts)
        if not result.exception:
            assert isinstance(result.outputs, dict)
            automated += 1
            agreed += result.outputs["outcome"] == (
                "decline" if row["deny"] == "yes" else "approve"
            )
    return len(rows), automated, agreed


def typed(spec_type: str, raw: str) -> bool | int | float:
    if spec_type == "boolean":
        return raw == "yes"
    return int(float(raw)) if spec_type == "integer" else float(raw)


def leaves_of(condition: Any) -> list[dict[str, Any]]:
    if not isinstance(condition, dict):
        return []
    if "input" in condition:
        return [condition]
    items = condition.get("all") or condition.get("any") or [condition.get("not")]
    return [leaf for item in items for leaf in leaves_of(item)]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("evaluation") / "evaluation.json"
    result = run("--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert json.loads(out.read_text()) == printed
    return dict(printed)


def test_the_final_version_is_version_1_plus_the_accepted_rules(report: dict[str, Any]) -> None:
    accepted = report["accepted"]
    assert accepted, "the proposer found nothing to accept on the HMDA history"
    assert [a["version"] for a in accepted] == list(range(2, 2 + len(accepted)))
    final = rebuilt(accepted)
    assert final.hash == report["final_version"]["hash"]
    assert report["final_version"]["number"] == 1 + len(accepted)
    assert load_document(DEMO_RULESET.read_bytes()).hash == report["base_version"]["hash"]


def test_figures_are_recomputed_from_the_held_out_rows(report: dict[str, Any]) -> None:
    """Decide every even case_id row again, independently, under version 1 and the rebuilt
    final version; the JSON's decisions and figures must be exactly these."""
    engine = Engine()
    base, final = load_document(DEMO_RULESET.read_bytes()), rebuilt(report["accepted"])
    rows = held_out_rows()
    decisions = {d["case_id"]: d for d in report["decisions"]}
    assert sorted(decisions, key=int) == [r["case_id"] for r in rows]
    counts = {"before": [0, 0], "after": [0, 0]}
    for row in rows:
        facts = {s.name: typed(s.type, row[s.name]) for s in base.inputs}
        real = "decline" if row["deny"] == "yes" else "approve"
        told = decisions[row["case_id"]]
        assert told["real"] == real
        for side, doc in (("before", base), ("after", final)):
            result = engine.evaluate(doc, facts)
            assert isinstance(result.outputs, dict)
            assert (told[side], told[f"exception_{side}"]) == (
                result.outputs["outcome"],
                result.exception,
            ), row["case_id"]
            if not result.exception:
                counts[side][0] += 1
                counts[side][1] += result.outputs["outcome"] == real
    for side, (automated, agreed) in counts.items():
        assert report[side]["cases"] == len(rows)
        assert (report[side]["automated"], report[side]["agreed"]) == (automated, agreed)
        assert report[side]["automation"] == round(automated / len(rows), 6)
        assert report[side]["agreement"] == round(agreed / automated, 6)
    gain = 100 * (counts["after"][0] - counts["before"][0]) / len(rows)
    assert report["automation_gain_points"] == round(gain, 2)
    # what the evaluation shows: the accepted proposal (the one expected to automate most)
    # automates more and loses at most the ceiling's points of agreement with the lender (the
    # conservative proposal, which loses none, is checked in the frontier test below)
    assert counts["after"][0] > counts["before"][0]
    agreement = [counts[side][1] / counts[side][0] for side in ("before", "after")]
    assert 100 * (agreement[0] - agreement[1]) <= report["max_agreement_loss"]


def test_no_protected_input_and_every_citation_verified(report: dict[str, Any]) -> None:
    assert report["protected_inputs"] == sorted(PROTECTED)
    assert report["protected_inputs_used"] == 0
    for item in report["frontier"]:
        for op in item["operations"]:
            assert not PROTECTED & {leaf["input"] for leaf in leaves_of(op["rule"].get("when"))}
        assert item["protected_inputs_used"] == 0
        assert item["citations"]["verdicts"] > 0
        assert item["citations"]["verified"] == item["citations"]["verdicts"]
        for op, text in zip(item["operations"], item["rules"], strict=True):
            assert text.startswith(str(op["rule"]["then"]["outcome"]) + " when ")
    for item in report["accepted"]:
        assert item["citations"] > 0
        assert item["verified"] == item["citations"]
    cited = report["citations"]
    assert cited["verdicts"] == sum(r["citations"]["verdicts"] for r in report["frontier"])
    assert cited["verified"] == cited["verdicts"]


def test_reproduce_line_rounds_and_timing(report: dict[str, Any]) -> None:
    assert report["reproduce"].startswith(
        "rulebook proposer evaluate --csv rules/store/demo/hmda_boston.csv --rounds 1 --out "
    )
    assert report["history_rows"] == report["held_out_rows"] == 1190
    assert report["rounds"] == {"asked": 1, "accepted": len(report["accepted"])}
    timing = report["timing_s"]
    assert set(timing) == {"setup", "propose", "accept", "decide", "total"}
    assert all(v >= 0 for v in timing.values())
    assert timing["total"] >= timing["setup"] + timing["decide"]


def test_text_output_and_the_frontier_agree_with_the_json(report: dict[str, Any]) -> None:
    text = run()
    assert text.exit_code == 0, text.output
    before, after = report["before"], report["after"]
    assert f"automation: {before['automation']:.1%} -> {after['automation']:.1%}" in text.output
    assert "protected inputs used: 0 (afam, single)" in text.output
    for row in report["frontier"]:
        assert f"#{row['proposal_id']} {row['role']}: {row['title']}" in text.output
    cal = report["calibration"]
    assert f"calibration: {cal['inside']} of {cal['intervals']} held-out changes" in text.output
    # pure induction, with the default settings, gives the conservative proposal's figures on
    # the held-out half (the default finds no decline rule on this history)
    (row,) = frontier(DEMO_CSV.read_bytes(), shuffles=1, folds=2, settings=SETTINGS[1:2])
    assert row["setting"].startswith("default")
    (safe,) = [r for r in report["frontier"] if r["role"] == "conservative"]
    assert row["held_out"]["automation_gain_points"] == round(
        safe["held_out"]["automation_points"], 1
    )
    assert row["held_out"]["agreement_change_points"] == safe["held_out"]["agreement_points"]


def test_the_frontier_table_is_recomputed_from_the_held_out_rows(report: dict[str, Any]) -> None:
    """Each proposal's candidate, rebuilt from its operations, decides the held-out rows
    again: its held-out change, whether it fell inside the forecast's range, the calibration
    count and the issue's acceptance figures are all recomputed here."""
    base = load_document(DEMO_RULESET.read_bytes())
    cases, automated, agreed = held_out_figures(base)
    assert (report["before"]["automated"], report["before"]["agreed"]) == (automated, agreed)
    rows, inside, counted = report["frontier"], 0, 0
    recomputed = []
    for row in rows:
        n, auto, agree = held_out_figures(with_operations(base, row["operations"]))
        held = row["held_out"]
        assert (held["cases"], held["automated"], held["agreed"]) == (n, auto, agree)
        gain = 100 * (auto - automated) / cases
        change = 100 * (agree / auto - agreed / automated)
        assert held["automation_points"] == round(gain, 2)
        assert held["agreement_points"] == round(change, 2)
        recomputed.append((row, gain, change))
        forecast = row["forecast"]
        assert forecast["method"] in ("cross_validation", "time_split")
        for name, value in (("automation", gain), ("agreement", change)):
            estimate = forecast[f"{name}_points"]
            assert estimate["low"] <= estimate["expected"] <= estimate["high"]
            flag = estimate["low"] <= round(value, 2) <= estimate["high"]
            assert row["inside_range"][name] == flag
            inside += flag
            counted += 1
    assert report["calibration"]["intervals"] == counted == 2 * len(rows)
    assert report["calibration"]["inside"] == inside
    # the acceptance, on the held-out half
    ceiling = report["max_agreement_loss"]
    assert ceiling == 3
    assert len(rows) >= 3
    within = [(r, g) for r, g, c in recomputed if round(c, 2) >= -ceiling]
    best, best_gain = max(within, key=lambda rg: rg[1])
    assert report["acceptance"]["best_within_ceiling"]["proposal_id"] == best["proposal_id"]
    assert best_gain >= 25
    safe = [(r, c) for r, g, c in recomputed if r["role"] == "conservative"]
    assert safe, "the run offers a conservative proposal"
    for _, c in safe:
        assert c >= 0, "the conservative proposal loses no agreement on the held-out half"
    # the forecasts say what the titles say
    for row in rows:
        expected = row["forecast"]["automation_points"]["expected"]
        assert f"{expected:+.1f} pts automation".replace("-", "\u2212") in row["title"]


def test_accepted_through_the_service_with_four_eyes(db: Database, report: dict[str, Any]) -> None:
    """The pipeline on SQLite and PostgreSQL: each accepted proposal was submitted by the
    analyst and approved by different approvers; every step is in the audit chain; and the
    outcome is the command's, byte for byte (but the timings)."""
    result = evaluate(db, DEMO_CSV.read_bytes(), file_name="hmda_boston.csv", rounds=1)
    assert result.accepted
    same = {k: v for k, v in report.items() if k not in ("reproduce", "timing_s")}
    assert {k: v for k, v in result.to_dict().items() if k != "timing_s"} == same
    with db.session() as s:
        events = list(audit.events(s))
        assert audit.verify(s).ok
    by_action: dict[str, list[Any]] = {}
    for event in events:
        by_action.setdefault(event.action, []).append(event)
    assert [e.actor for e in by_action["proposal.submitted"]] == [ANALYST] * len(result.accepted)
    accepted_by = [e.actor for e in by_action["proposal.accepted"]]
    assert len(accepted_by) == len(result.accepted)
    for item, actor in zip(result.accepted, accepted_by, strict=True):
        needed = 1 if item.impact == "low" else 2
        assert item.approvers == APPROVERS[:needed]
        assert actor == APPROVERS[needed - 1]
    high = sum(1 for item in result.accepted if item.impact != "low")
    assert [e.actor for e in by_action.get("proposal.approved", [])] == [APPROVERS[0]] * high
    activated = [e.payload["number"] for e in by_action["version.activated"]]
    assert activated == [1, *(item.version for item in result.accepted)]


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda rows: [[c for i, c in enumerate(r) if i != 0] for r in rows], "header"),
        (lambda rows: [rows[0], ["x1", *rows[1][1:]], *rows[2:]], "row 2, column case_id"),
        (lambda rows: [rows[0], *(r for r in rows[1:] if not int(r[0]) % 2)], "case_id"),
    ],
    ids=["no-case-id", "bad-case-id", "no-odd-rows"],
)
def test_a_file_that_cannot_be_split_is_refused(tmp_path: Path, edit: Any, where: str) -> None:
    with DEMO_CSV.open(newline="") as f:
        rows = list(csv.reader(f))[:41]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(edit(rows))
    bad, out = tmp_path / "bad.csv", tmp_path / "out.json"
    bad.write_text(text.getvalue())
    result = run("--csv", str(bad), "--out", str(out), "--json")
    assert result.exit_code == 1, result.output
    problem = json.loads(result.stdout)["problems"][0]
    assert problem["location"] == where
    assert problem["code"] in {"RB970", "RB971", "RB972"}
    assert not out.exists()
    assert "error:" in run("--csv", str(bad)).output


def test_bad_options_exit_non_zero(tmp_path: Path) -> None:
    assert run("--rounds", "0").exit_code == 2
    missing = run("--csv", str(tmp_path / "nope.csv"))
    assert missing.exit_code != 0
    assert "nope.csv" in missing.output
