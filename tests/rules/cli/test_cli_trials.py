"""``rulebook scenarios`` and ``rulebook shadow`` on real databases."""

from __future__ import annotations

import json
from pathlib import Path

from tests.rules.cli.test_cli_store import APPROVE, MORTGAGE, NAME, run, run_json, second_version


def test_scenarios_add_import_list_run(db_url: str, tmp_path: Path) -> None:
    assert run(db_url, "ruleset", "create", str(MORTGAGE)).exit_code == 0
    added = run_json(
        db_url,
        "scenarios",
        "add",
        NAME,
        "--facts",
        json.dumps(APPROVE),
        "--expect",
        '{"outcome": "approve"}',
        "--id",
        "clean",
    )
    assert added["id"] == "clean"
    cases = tmp_path / "cases.csv"
    cases.write_text(
        "id,pirat,hirat,lvrat,chist,mhist,phist,insurance,expect.outcome\n"
        "over,0.33,0.2,0.8,1,1,false,false,approve\n"
    )
    assert run(db_url, "scenarios", "import", NAME, str(cases)).exit_code == 0
    listed = run_json(db_url, "scenarios", "list", NAME)
    assert [s["id"] for s in listed["items"]] == ["clean", "over"]
    failing = run(db_url, "scenarios", "run", NAME)
    assert failing.exit_code == 1
    assert "FAIL over: outcome: expected 'approve', got 'refer'" in failing.output
    assert "deciding rules: (defaults)" in failing.output
    assert "1 passed, 1 failed" in failing.output
    bad = run(db_url, "scenarios", "add", NAME, "--facts", "{}", "--expect", '{"outcom": 1}')
    assert bad.exit_code == 1
    assert "did you mean 'outcome'" in bad.output
    broken = run(db_url, "scenarios", "add", NAME, "--facts", "{}", "--expect", "{outcome")
    assert broken.exit_code == 1
    assert "--expect must be a JSON object" in broken.output
    assert "RB400 expect: not valid JSON" in broken.output


def test_shadow_start_report_stop(db_url: str) -> None:
    assert run(db_url, "ruleset", "create", str(MORTGAGE)).exit_code == 0
    second_version(db_url)
    started = run(db_url, "shadow", "start", NAME, "--version", "2")
    assert started.exit_code == 0, started.output
    again = run(db_url, "shadow", "start", NAME, "--version", "2")
    assert again.exit_code != 0
    assert "at most one shadow" in again.output
    assert run(db_url, "shadow", "start", NAME).exit_code == 2  # neither --version nor --proposal
    assert run(db_url, "decide", NAME, "--facts", json.dumps(APPROVE)).exit_code == 0
    report = run_json(db_url, "shadow", "report", NAME)
    assert report["version"] == 2
    assert report["running"]
    assert report["decisions_seen"] == 1  # the CLI's decision too, before the command exits
    assert run(db_url, "shadow", "stop", NAME).exit_code == 0
    assert "stopped" in run(db_url, "shadow", "report", NAME).output
    verified = run(db_url, "audit", "verify")
    assert verified.exit_code == 0, verified.output
