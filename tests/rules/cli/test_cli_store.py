"""The ``rulebook`` verbs backed by the system of record, run through click on real databases:
what each prints, what it records, and that every error is a message and a non-zero exit."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from rules import audit
from rules.cli import main
from rules.cli.service import cli_actor
from rules.core.dmn import import_dmn
from rules.core.document import Document, load_document, parse_document
from rules.core.engine import evaluate
from rules.store import Database, accounts, decisions, versions
from tests.rules.store.storecases import proposal

ROOT = Path(__file__).resolve().parents[3]
MORTGAGE = ROOT / "examples" / "mortgage.yaml"
NAME = "mortgage-approval"
APPROVE = {
    "pirat": 0.25,
    "hirat": 0.2,
    "lvrat": 0.8,
    "chist": 1,
    "mhist": 1,
    "phist": False,
    "insurance": False,
}


def run(db_url: str, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, [*args, "--database-url", db_url], input=input)


def run_json(db_url: str, *args: str, code: int = 0) -> Any:
    result = run(db_url, *args, "--json")
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def sql(db_url: str, statement: str) -> Any:
    db = Database(db_url)
    try:
        with db.engine.begin() as conn:
            result = conn.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        db.dispose()


def second_version(db_url: str) -> None:
    """Version 2 (only proposals create one; the service is called as review would)."""
    data = copy.deepcopy(load_document(MORTGAGE.read_bytes()).to_dict())
    rule = {"id": "decline-high-debt", "when": {"input": "pirat", "op": "gt", "value": 0.6}}
    data["rules"].insert(1, {**rule, "then": {"outcome": "decline", "reason": "Debt too high"}})
    db = Database(db_url)
    with db.session() as s:
        versions.create_version(
            s, NAME, parse_document(data), base=1, actor="user:a", proposal_id=proposal(s, NAME)
        )
    db.dispose()


def test_ruleset_create_show_versions_diff_activate(db_url: str) -> None:
    created = run_json(db_url, "ruleset", "create", str(MORTGAGE))
    doc = load_document(MORTGAGE.read_bytes())
    assert (created["version"], created["hash"], created["active"]) == (1, doc.hash, True)
    assert created["author"] == cli_actor()
    assert run_json(db_url, "ruleset", "show", NAME)["document"] == doc.to_dict()
    second_version(db_url)

    shown = run(db_url, "ruleset", "show", NAME, "--version", "2")
    assert shown.exit_code == 0, shown.output
    assert "decline-high-debt" in shown.output
    assert "# mortgage-approval version 2, sha256" in shown.output  # not active yet

    diff = run_json(db_url, "ruleset", "diff", NAME, "1", "2")
    assert (diff["added"], diff["removed"], diff["changed"]) == (["decline-high-debt"], [], [])

    activated = run_json(db_url, "ruleset", "activate", NAME, "2", "--note", "go live")
    assert (activated["version"], activated["previous"], activated["note"]) == (2, 1, "go live")
    listing = run_json(db_url, "ruleset", "versions", NAME)
    assert listing["active_version"] == 2
    assert [a["version"] for a in listing["activations"]] == [1, 2]
    table = run(db_url, "ruleset", "versions", NAME).output
    assert "*       2" in table
    assert "version 2 (was 1) by " in table

    again = run(db_url, "ruleset", "activate", NAME, "2")
    assert again.exit_code == 1
    assert "already active" in again.stderr
    rollback = run(db_url, "ruleset", "activate", NAME, "1")
    assert rollback.exit_code == 0
    assert "version 1 is now active (was 2)" in rollback.output


def test_ruleset_errors_name_what_was_wrong(db_url: str, tmp_path: Path) -> None:
    missing = run(db_url, "ruleset", "show", "mortgage-aproval")
    assert missing.exit_code == 3
    assert "did you mean 'mortgage-approval'?" not in missing.stderr  # nothing recorded yet
    assert "no ruleset named 'mortgage-aproval'" in missing.stderr
    run_json(db_url, "ruleset", "create", str(MORTGAGE))
    typo = run_json(db_url, "ruleset", "show", "mortgage-aproval", code=3)
    assert "did you mean 'mortgage-approval'?" in typo["error"]
    duplicate = run(db_url, "ruleset", "create", str(MORTGAGE))
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(MORTGAGE.read_text().replace("name: mortgage-approval", "name: other"))
    bad.write_text(
        bad.read_text().replace("{input: insurance, op: eq", "{input: insurence, op: eq")
    )
    refused = run_json(db_url, "ruleset", "create", str(bad), code=1)
    assert refused["problems"][0]["suggestion"] == "insurance"
    assert run_json(db_url, "ruleset", "list")["rulesets"][0]["name"] == NAME


def test_decide_records_through_the_service(db_url: str) -> None:
    run_json(db_url, "ruleset", "create", str(MORTGAGE))
    facts = json.dumps(APPROVE)
    first = run_json(db_url, "decide", NAME, "--facts", facts, "--request-id", "r-1")
    assert first["outputs"]["outcome"] == "approve"
    assert first["created"] is True
    repeat = run_json(db_url, "decide", NAME, "--facts", facts, "--request-id", "r-1")
    assert (repeat["decision_id"], repeat["created"]) == (first["decision_id"], False)
    db = Database(db_url)
    with db.session() as s:
        stored = decisions.get_decision(s, first["decision_id"])
    db.dispose()
    assert (stored.source, stored.caller, stored.facts) == ("cli", cli_actor(), APPROVE)

    text_out = run(db_url, "decide", NAME, "--facts", json.dumps({**APPROVE, "insurance": True}))
    assert text_out.exit_code == 0
    assert "rule_ids:  decline-insurance-denied" in text_out.output

    wrong = run_json(
        db_url, "decide", NAME, "--facts", json.dumps({**APPROVE, "pirat": "x"}), code=1
    )
    assert wrong["problems"][0]["location"] == "facts.pirat"
    assert run(db_url, "decide", NAME, "--facts", "{oops").exit_code == 1
    assert run(db_url, "decide", NAME, "--facts", facts, "--version", "7").exit_code == 3


def test_replay_one_and_all_and_report_differences(db_url: str) -> None:
    run_json(db_url, "ruleset", "create", str(MORTGAGE))
    ids = [
        run_json(db_url, "decide", NAME, "--facts", json.dumps({**APPROVE, "pirat": p}))[
            "decision_id"
        ]
        for p in (0.2, 0.5, 0.25)
    ]
    assert run_json(db_url, "replay", str(ids[0]))["identical"] is True
    summary = run_json(db_url, "replay", "--all", NAME)
    assert (summary["replayed"], summary["identical"], summary["different"]) == (3, 3, 0)

    sql(db_url, f"UPDATE decisions SET exception = NOT exception WHERE id = {ids[1]}")
    one = run(db_url, "replay", str(ids[1]))
    assert one.exit_code == 1
    assert f"decision {ids[1]}: DIFFERS in exception" in one.output
    every = run_json(db_url, "replay", "--all", NAME, code=1)
    assert (every["identical"], every["different"]) == (2, 1)
    assert every["differences"][0]["decision_id"] == ids[1]
    assert run(db_url, "replay").exit_code == 2
    assert run(db_url, "replay", "999").exit_code == 3


def test_audit_verify_names_the_altered_event_and_export_writes_it(
    db_url: str, tmp_path: Path
) -> None:
    run_json(db_url, "ruleset", "create", str(MORTGAGE))
    assert run_json(db_url, "audit", "verify") == {
        "ok": True,
        "events": 3,
        "first_bad_seq": None,
        "reason": None,
    }
    out = tmp_path / "audit.csv"
    wrote = run_json(db_url, "audit", "export", "--format", "csv", "-o", str(out))
    assert wrote["events"] == 3
    assert out.read_text().splitlines()[0] == "seq,at,actor,action,subject,payload,prev_hash,hash"
    exported = json.loads(run(db_url, "audit", "export").output)
    assert [e["action"] for e in exported] == [
        "ruleset.created",
        "version.created",
        "version.activated",
    ]

    sql(db_url, "UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2")
    broken = run(db_url, "audit", "verify")
    assert broken.exit_code == 1
    assert "BROKEN at event 2" in broken.output


def test_users_and_api_keys(db_url: str) -> None:
    made = run(
        db_url,
        "users",
        "create",
        "ann",
        "--role",
        "approver",
        "--password-stdin",
        input="correct horse battery\n",
    )
    assert made.exit_code == 0, made.output
    short = run(
        db_url, "users", "create", "bob", "--role", "analyst", "--password-stdin", input="short\n"
    )
    assert short.exit_code == 1
    assert "RB703 password" in short.stderr
    assert (
        run(db_url, "users", "create", "bob", "--role", "boss", "--password-stdin").exit_code == 2
    )
    assert [u["username"] for u in run_json(db_url, "users", "list")["users"]] == ["ann"]

    key = run_json(db_url, "apikeys", "create", "billing", "--scopes", "decide,read")
    plain = run(db_url, "apikeys", "create", "other", "--scopes", "read")
    token = plain.stdout.strip()
    assert token.startswith("rbk_")
    assert "shown only this once" in plain.stderr
    db = Database(db_url)
    with db.session() as s:
        assert accounts.authenticate_user(s, "ann", "correct horse battery") is not None
        found = accounts.authenticate_key(s, key["key"])
        assert found is not None
        assert found.scopes == {"decide", "read"}
        assert accounts.authenticate_key(s, token) is not None
    listing = run(db_url, "apikeys", "list").output
    assert key["prefix"] in listing
    assert key["key"] not in listing
    assert run_json(db_url, "apikeys", "revoke", key["prefix"])["revoked"] is True
    with db.session() as s:
        assert accounts.authenticate_key(s, key["key"]) is None
    db.dispose()
    bad_scope = run_json(db_url, "apikeys", "create", "x", "--scopes", "decid", code=1)
    assert bad_scope["problems"][0]["suggestion"] == "decide"
    assert run(db_url, "apikeys", "revoke", "nope").exit_code == 3


def test_users_reset_password_forces_a_change_and_is_audited(db_url: str) -> None:
    made = run(
        db_url,
        "users",
        "create",
        "ann",
        "--role",
        "analyst",
        "--password-stdin",
        input="correct horse battery\n",
    )
    assert made.exit_code == 0, made.output
    result = run(
        db_url,
        "users",
        "reset-password",
        "ann",
        "--password-stdin",
        "--json",
        input="temporary pass 1\n",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"username": "ann", "must_change_password": True}
    listed = run_json(db_url, "users", "list")["users"]
    assert listed[0]["must_change_password"] is True
    assert "(must change password)" in run(db_url, "users", "list").output
    db = Database(db_url)
    with db.session() as s:
        assert accounts.authenticate_user(s, "ann", "correct horse battery") is None
        assert accounts.authenticate_user(s, "ann", "temporary pass 1") is not None
        event = list(audit.events(s, action="user.password_reset"))[-1]
    db.dispose()
    assert (event.actor, event.subject) == (cli_actor(), "user:ann")
    assert event.payload == {"username": "ann", "sessions_ended": 0}
    short = run(db_url, "users", "reset-password", "ann", "--password-stdin", input="short\n")
    assert (short.exit_code, "RB703 password" in short.stderr) == (1, True)
    same = run(db_url, "users", "reset-password", "ann", "--password-stdin", input="ANN\n")
    assert same.exit_code == 1
    missing = run(db_url, "users", "reset-password", "bob", "--password-stdin", input="x" * 12)
    assert missing.exit_code == 3
    assert "no user named 'bob'" in missing.stderr


def test_demo_loads_once(db_url: str) -> None:
    loaded = run_json(db_url, "demo", "load", "--if-empty")
    assert loaded["loaded"] is True
    assert loaded["history"]["imported"] == 2380
    assert sorted(u["username"] for u in loaded["users"]) == [
        "admin",
        "analyst",
        "approver",
        "auditor",
    ]
    db = Database(db_url)
    with db.session() as s:
        user = loaded["users"][0]
        assert accounts.authenticate_user(s, user["username"], user["password"]) is not None
        key = accounts.authenticate_key(s, loaded["api_key"]["key"])
        assert key is not None
        assert key.scopes == {"decide", "resolve", "read"}
    db.dispose()

    again = run(db_url, "demo", "load", "--if-empty")
    assert again.exit_code == 0
    assert "not loaded again" in again.output
    assert "rbk_" not in again.output
    assert sql(db_url, "SELECT count(*) FROM decisions") == 2380
    assert sql(db_url, "SELECT count(*) FROM users") == 4
    forced = run(db_url, "demo", "load")
    assert forced.exit_code == 1
    assert "already exists" in forced.stderr
    assert sql(db_url, "SELECT count(*) FROM decisions") == 2380


def test_demo_prints_logins_key_and_a_curl_example(db_url: str) -> None:
    out = run(db_url, "demo", "load", "--url", "http://127.0.0.1:9999")
    assert out.exit_code == 0, out.output
    key = next(w for w in out.output.split() if w.startswith("rbk_"))
    assert "curl -s http://127.0.0.1:9999/api/v1/rulesets/mortgage-approval/decisions" in out.output
    assert f'"Authorization: Bearer {key}"' in out.output
    body = out.output.split("-d '", 1)[1].split("'", 1)[0]
    db = Database(db_url)
    with db.session() as s:
        record, _ = decisions.DecisionService().decide(
            NAME, json.loads(body)["facts"], caller="test", session=s
        )
    db.dispose()
    assert record.outputs["outcome"] == "approve"


def test_an_unmigrated_database_says_to_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    result = run(url, "ruleset", "list")
    assert result.exit_code == 4
    assert "run `rulebook db upgrade` first" in result.stderr
    assert run_json(url, "db", "current")["up_to_date"] is False
    upgraded = run_json(url, "db", "upgrade")
    assert (upgraded["previous"], upgraded["revision"]) == (None, upgraded["head"])
    assert run_json(url, "db", "current")["up_to_date"] is True
    assert run(url, "ruleset", "list").output.strip() == "no rulesets yet"
    unreachable = run("postgresql+psycopg://nobody@127.0.0.1:1/none", "ruleset", "list")
    assert unreachable.exit_code == 4
    assert "cannot use the database at postgresql+psycopg://nobody@127.0.0.1:1/none" in (
        unreachable.stderr
    )


def test_verbs_load_lazily_and_plugins_come_from_entry_points() -> None:
    # The group and the engine's verbs load no store-backed verb, no SQLAlchemy, no plugin.
    store_backed = ("rules.cli.service", "rules.cli.db", "rules.cli.decisions", "rules.store")
    code = (
        "import sys; import rules.cli\n"
        "print(sorted(m for m in sys.modules"
        f" if m.startswith({(*store_backed, 'sqlalchemy', 'flask', 'litellm', 'review_app')!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    helped = CliRunner().invoke(main, ["--help"])
    assert helped.exit_code == 0
    for verb in ("audit", "db", "decide", "history", "replay", "serve", "users"):
        assert f"\n  {verb} " in helped.output
    typo = CliRunner().invoke(main, ["histroy"])
    assert typo.exit_code == 2
    assert "Did you mean 'history'?" in typo.output


DMN_FACTS = [
    APPROVE,
    {**APPROVE, "insurance": True},  # declined
    {**APPROVE, "pirat": 0.5},  # no rule: the default, referred
    {**APPROVE, "pirat": 0.7, "afam": True},  # version 2 declines a debt ratio over 0.6
    {**APPROVE, "chist": 3, "phist": True, "single": False},
]


def _decides(doc: Document, facts: dict[str, Any]) -> tuple[Any, ...]:
    """What the decision table answers (not ``exception``: review settings are not DMN's)."""
    result = evaluate(doc, facts)
    return result.outputs, result.rule_ids, result.matched, result.error


def test_dmn_export_by_name_decides_like_the_recorded_version(db_url: str, tmp_path: Path) -> None:
    run_json(db_url, "ruleset", "create", str(MORTGAGE))
    second_version(db_url)  # not activated
    db = Database(db_url)
    with db.session() as s:
        recorded = {n: versions.get_version(s, NAME, n).document for n in (1, 2)}
    db.dispose()
    out = tmp_path / "active.dmn"
    active = run(db_url, "dmn", "export", NAME, "-o", str(out))
    assert active.exit_code == 0, active.output
    assert f"wrote {out}: {NAME} version 1, 2 rules" in active.stderr
    pinned = run(db_url, "dmn", "export", NAME, "--version", "2")
    assert pinned.exit_code == 0, pinned.output
    exported = {1: import_dmn(out.read_bytes()), 2: import_dmn(pinned.stdout.encode())}
    for number, doc in exported.items():
        assert [r.id for r in doc.rules] == [r.id for r in recorded[number].rules]
        for facts in DMN_FACTS:
            assert _decides(doc, facts) == _decides(recorded[number], facts), (number, facts)
    high_debt = DMN_FACTS[3]
    assert _decides(exported[1], high_debt) != _decides(exported[2], high_debt)


def test_dmn_export_reads_an_existing_file_first(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_json(db_url, "ruleset", "create", str(MORTGAGE))
    other = ROOT / "tests" / "data" / "dmn" / "export" / "loans.yaml"
    monkeypatch.chdir(tmp_path)
    (tmp_path / NAME).write_bytes(other.read_bytes())  # a file named like the ruleset
    from_file = run(db_url, "dmn", "export", NAME)
    assert from_file.exit_code == 0, from_file.output
    assert import_dmn(from_file.stdout.encode()).name == load_document(other.read_bytes()).name
    versioned = run(db_url, "dmn", "export", NAME, "--version", "1")
    assert versioned.exit_code == 1
    assert "is a file, which has no versions: use --version with a NAME" in versioned.stderr


def test_dmn_export_errors_name_what_was_wrong(db_url: str) -> None:
    run_json(db_url, "ruleset", "create", str(MORTGAGE))
    typo = run(db_url, "dmn", "export", "mortgage")
    assert typo.exit_code == 3
    assert (
        "there is no file 'mortgage', and no ruleset named 'mortgage'; "
        "did you mean 'mortgage-approval'?"
    ) in typo.stderr
    missing = run(db_url, "dmn", "export", NAME, "--version", "9")
    assert missing.exit_code == 3
    assert "mortgage-approval has no version 9; versions are 1 to 1" in missing.stderr
    path = run(db_url, "dmn", "export", "rules/missing.yaml")
    assert path.exit_code == 1
    assert "'rules/missing.yaml' is neither an existing file nor a ruleset name" in path.stderr


def test_dmn_export_of_a_file_loads_no_database_code() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from rules.cli import main\n"
        f"result = CliRunner().invoke(main, ['dmn', 'export', {str(MORTGAGE)!r}])\n"
        "print(result.exit_code, 'definitions' in result.output,"
        " sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy')[:1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0 True []"
