"""``rulebook propose``, ``backtest`` and ``proposals list|show`` end to end through click, on
real databases: what they print (``--json`` and text), what they record, and that every error
is a message naming what was wrong, a non-zero exit, and nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from proposer import apply, get_proposal, parse_operations
from proposer.backtest import backtest
from rules import audit
from rules.cli import main
from rules.cli.service import cli_actor
from rules.store import Database
from rules.store.models import AuditEvent, Proposal
from tests.proposer.test_baseline import load
from tests.proposer.test_proposals import logged, raise_limit
from tests.rules.store.storecases import NAME, mortgage


def run(db: Database, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--database-url", db.url])


def run_json(db: Database, *args: str, code: int = 0) -> Any:
    result = run(db, *args, "--json")
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def stored(db: Database) -> tuple[int, int]:
    with db.session() as s:
        proposals = s.scalar(select(func.count()).select_from(Proposal))
        events = s.scalar(select(func.count()).select_from(AuditEvent))
    return int(proposals or 0), int(events or 0)


def test_propose_list_show(db: Database) -> None:
    load(db)
    out = run_json(db, "propose", NAME, "--limit", "2")
    assert out["proposer"] == "baseline"
    created = out["proposals"]
    assert 1 <= len(created) <= 2
    with db.session() as s:
        records = [get_proposal(s, p["id"]) for p in created]
    assert created == [r.to_dict() for r in records]
    assert {r.author for r in records} == {"baseline"}
    with db.session() as s:
        event = next(audit.events(s, action="proposal.created"))
    assert event.actor == cli_actor()

    listed = run_json(db, "proposals", "list")["proposals"]
    assert [p["id"] for p in listed] == sorted((p["id"] for p in created), reverse=True)
    assert "candidate" not in listed[0]
    assert listed[0]["summary"]["citations"]["verified"] >= 1
    assert run_json(db, "proposals", "list", "--status", "accepted")["proposals"] == []
    impact = records[0].impact or "high"
    assert records[0].id in [
        p["id"] for p in run_json(db, "proposals", "list", "--impact", impact)["proposals"]
    ]

    shown = run_json(db, "proposals", "show", str(records[0].id))
    assert shown == records[0].to_dict()
    assert shown["evidence"]["citations"]["verdicts"]
    text = run(db, "proposals", "show", str(records[0].id))
    assert text.exit_code == 0, text.output
    assert records[0].title in text.stdout
    assert "verified" in text.stdout
    assert f"impact: {records[0].impact}" in text.stdout
    assert "agreement" in text.stdout


def test_propose_prints_each_proposal(db: Database) -> None:
    load(db)
    result = run(db, "propose", NAME, "--limit", "1", "--window", "last:500")
    assert result.exit_code == 0, result.output
    assert "1 draft proposal(s)" in result.stdout
    assert "citations verified" in result.stdout
    # a run drafts what the frontier offers that is not already an open proposal
    rest = run(db, "propose", NAME, "--limit", "50", "--window", "last:500")
    assert rest.exit_code == 0, rest.output
    again = run(db, "propose", NAME, "--limit", "1", "--window", "last:500")
    assert "already proposed" in again.stdout


def test_backtest_verb(db: Database, tmp_path: Path) -> None:
    logged(db)
    candidate = apply(mortgage(), parse_operations(raise_limit()))
    path = tmp_path / "candidate.yaml"
    path.write_text(yaml.safe_dump(candidate.to_dict()))
    out = run_json(db, "backtest", NAME, "--candidate", str(path), "--keep", "2")
    with db.session() as s:
        expected = backtest(s, NAME, candidate, keep=2).to_dict()
    assert out == expected
    assert (out["cases"], out["changed"]) == (9, 3)
    text = run(db, "backtest", NAME, "--candidate", str(path), "--window", "last:5")
    assert text.exit_code == 0, text.output
    assert "decisions replayed   5" in text.stdout
    assert "refer -> approve" in text.stdout
    assert "first changed decisions" in text.stdout


@pytest.mark.parametrize(
    ("args", "code", "names"),
    [
        (("propose", "no-such-ruleset"), 3, "no-such-ruleset"),
        (("propose", NAME, "--window", "last:zero"), 1, "window.last"),
        (("propose", NAME, "--limit", "0"), 2, "--limit"),
        (("proposals", "show", "999"), 3, "no proposal 999"),
        (("proposals", "list", "--ruleset", "mortgage-aproval"), 3, "mortgage-approval"),
        (("backtest", NAME, "--candidate", "/nonexistent.yaml"), 1, "/nonexistent.yaml"),
    ],
)
def test_errors_name_what_was_wrong_and_write_nothing(
    db: Database, args: tuple[str, ...], code: int, names: str
) -> None:
    logged(db)
    before = stored(db)
    result = run(db, *args)
    assert result.exit_code == code, result.output
    assert names in result.output
    assert stored(db) == before


def test_backtest_errors_are_located(db: Database, tmp_path: Path) -> None:
    logged(db)
    other = {**mortgage().to_dict(), "name": "something-else"}
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(other))
    out = run_json(db, "backtest", NAME, "--candidate", str(path), code=1)
    assert [p["location"] for p in out["problems"]] == ["candidate.name"]
    bad = run_json(db, "backtest", NAME, "--candidate", str(path), "--window", "ids:9-1", code=1)
    assert bad["kind"] == "BacktestError"
    assert [p["location"] for p in bad["problems"]] == ["window.ids"]


def test_llm_without_a_model_says_so(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    logged(db)
    monkeypatch.delenv("RULEBOOK_LLM_MODEL", raising=False)
    before = stored(db)
    out = run_json(db, "propose", NAME, "--proposer", "llm", code=1)
    assert out["kind"] == "ProposerUnavailableError"
    assert out["problems"][0]["location"] == "RULEBOOK_LLM_MODEL"
    text = run(db, "propose", NAME, "--proposer", "llm")
    assert text.exit_code == 1
    assert "RULEBOOK_LLM_MODEL" in text.output
    assert "--proposer baseline" in text.output
    assert stored(db) == before
