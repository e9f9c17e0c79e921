"""Issue 12, item 15: one canonical form (RFC 8785), chain formats, and the offline verifier.

- ``docs/audit-chain-vectors.json`` holds the canonical form to published bytes, for the
  service's :func:`canonical_json` and for the stdlib-only ``rules/audit/offline.py``;
- a chain written by the old code (format 1 rows, built explicitly here with format 1's
  recipe) still verifies, and so does a chain of format 1 events then format 2 events;
  formats never go back;
- the offline verifier recomputes a real export (JSON and CSV) and rejects a tampered one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from rules import audit
from rules.audit import legacy, offline
from rules.audit.verify.imports import Imports
from rules.core.document import canonical_json
from rules.store import Database
from rules.store.models import AuditEvent, AuditHead
from tests.rules.store.storecases import build_history, import_history

ROOT = Path(__file__).resolve().parents[3]
VECTORS = json.loads((ROOT / "docs" / "audit-chain-vectors.json").read_text(encoding="utf-8"))
OFFLINE = ROOT / "rules" / "audit" / "offline.py"


# --------------------------------------------------------------------------- vectors


@pytest.mark.parametrize("case", VECTORS["canonical"], ids=lambda c: c["name"])
def test_canonical_json_matches_the_published_vectors(case: dict[str, str]) -> None:
    value = json.loads(case["input"])
    expected = case["canonical"].encode("utf-8")
    assert hashlib.sha256(expected).hexdigest() == case["sha256"]
    assert canonical_json(value) == expected
    assert offline.jcs(value).encode("utf-8") == expected


def test_the_vectors_cover_the_rfc_number_and_ordering_cases() -> None:
    outputs = {c["input"]: c["canonical"] for c in VECTORS["canonical"]}
    assert outputs["1e21"] == "1e+21"
    assert outputs["-0.0"] == "0"
    assert outputs["5e-324"] == "5e-324"
    assert outputs["1e-7"] == "1e-7"
    names = [c["name"] for c in VECTORS["canonical"]]
    assert any("UTF-16" in n for n in names)


@pytest.mark.parametrize("name", sorted(VECTORS["chains"]))
def test_the_published_chains_recompute(name: str) -> None:
    chain = VECTORS["chains"][name]
    prev = audit.GENESIS
    for event in chain:
        text = event["hashed_text"].encode("utf-8")
        assert hashlib.sha256(prev.encode() + text).hexdigest() == event["hash"]
        prev = event["hash"]
    exported = [{k: e[k] for k in audit.EXPORT_FIELDS} for e in chain]
    report = offline.check(exported)
    assert report.ok, report.summary()
    assert report.formats == {
        1: sum(e["format"] == 1 for e in chain),
        2: sum(e["format"] == 2 for e in chain),
    }


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        ("x\ud800", ValueError),
        ({1: "a"}, TypeError),
        ({"a": object()}, TypeError),
    ],
    ids=["nan", "inf", "lone-surrogate", "int-key", "object"],
)
def test_what_has_no_canonical_form_is_refused(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        canonical_json(value)


def test_an_integer_and_a_float_of_one_value_are_one_number() -> None:
    # A database's JSON round trip may turn 1e16 into 10000000000000000 or back.
    assert (
        canonical_json({"n": 10**16}) == canonical_json({"n": 1e16}) == b'{"n":10000000000000000}'
    )
    assert canonical_json([2**53 + 1]) == b"[9007199254740993]"  # exact, never rounded


# --------------------------------------------------------------------------- old chains


def _rewrite(db: Database, fmt_of: Callable[[int], int]) -> None:
    """Rewrite every event as the code of its format would have written it: format 1 rows
    with format 1's payload text, digests and hash recipe (as before format 2 existed)."""
    with db.session() as s:
        rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        imports = Imports(s)
        prev = audit.GENESIS
        for ev in rows:
            fmt = fmt_of(ev.seq)
            payload = json.loads(ev.payload)
            if ev.action == "history.imported":
                runs = [(int(a), int(b)) for a, b in payload["decision_ids"]]
                payload["digest"] = imports._recompute(payload["ruleset"], runs, fmt).hexdigest()
            text = (legacy.event_json(payload) if fmt == 1 else canonical_json(payload)).decode()
            digest = audit.event_hash(
                prev, ev.seq, ev.at, ev.actor, ev.action, ev.subject, text, fmt
            )
            s.execute(
                update(AuditEvent)
                .where(AuditEvent.seq == ev.seq)
                .values(payload=text, prev_hash=prev, hash=digest)
            )
            prev = digest
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=prev))


def _history(db: Database) -> int:
    """build_history and an import, plus an event whose numbers the two formats write
    differently (1e-07 / 1e-7, 1e+16 / 10000000000000000): the events in the chain."""
    h = build_history(db)
    import_history(db, h)
    with db.session() as s:
        audit.append(s, "user:ops", "kill_switch.set", "proposer", {"rate": 1e-7, "big": 1e16})
    return len(h.actions) + 1


def _verify(db: Database) -> audit.Verification:
    with db.session() as s:
        return audit.verify(s)


def _formats(db: Database) -> list[int]:
    """Each stored event's format, told by its hash (format 2 hashes include "format": 2)."""
    found = []
    with db.session() as s:
        for ev in s.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
            args = (ev.prev_hash, ev.seq, ev.at, ev.actor, ev.action, ev.subject, ev.payload)
            found.append(next(f for f in (1, 2) if audit.event_hash(*args, f) == ev.hash))
    return found


def test_a_chain_written_by_the_old_code_still_verifies(db: Database) -> None:
    events = _history(db)
    _rewrite(db, lambda seq: 1)
    assert _formats(db) == [1] * events
    with db.session() as s:
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert last is not None
        assert last.payload == '{"big":10000000000000000,"rate":1e-07}'  # format 1: 1e-07
    assert _verify(db) == audit.Verification(True, events)


def test_a_mixed_chain_verifies_and_new_events_are_format_2(db: Database) -> None:
    events = _history(db)
    _rewrite(db, lambda seq: 1 if seq <= 6 else 2)
    with db.session() as s:
        audit.append(s, "user:ops", "kill_switch.set", "proposer", {"rate": 1e-7})
    assert _formats(db) == [1] * 6 + [2] * (events - 6) + [2]
    assert _verify(db) == audit.Verification(True, events + 1)


def test_tampering_is_found_in_either_format(db: Database) -> None:
    events = _history(db)
    _rewrite(db, lambda seq: 1 if seq <= 6 else 2)
    for seq in (3, events):
        with db.session() as s:
            ev = s.get(AuditEvent, seq)
            assert ev is not None
            original = ev.actor
            ev.actor = "user:mallory"
        result = _verify(db)
        assert (result.ok, result.first_bad_seq) == (False, seq)
        assert result.reason == "hash does not match the event's contents"
        with db.session() as s:
            s.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(actor=original))
    assert _verify(db).ok


def test_formats_never_go_back(db: Database) -> None:
    """A format 1 event after a format 2 event is not a chain the service writes."""
    _history(db)
    _rewrite(db, lambda seq: 1 if seq == 5 else 2)
    result = _verify(db)
    assert (result.ok, result.first_bad_seq) == (False, 5)
    assert result.reason == "hash does not match the event's contents"


def test_an_old_import_digest_is_recomputed_with_the_old_rules(db: Database) -> None:
    _history(db)
    _rewrite(db, lambda seq: 1)
    with db.session() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "history.imported")).one()
        payload = json.loads(ev.payload)
        imports = Imports(s)
        runs = [(int(a), int(b)) for a, b in payload["decision_ids"]]
        assert payload["digest"] == imports._recompute(payload["ruleset"], runs, 1).hexdigest()
    assert _verify(db).ok


# --------------------------------------------------------------------------- offline verifier


def _run(path: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The verifier as an auditor runs it: a copy of the one file, isolated from Rulebook."""
    copy = cwd / "verify_chain.py"
    shutil.copy(OFFLINE, copy)
    return subprocess.run(
        [sys.executable, "-I", str(copy), str(path), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_the_offline_verifier_recomputes_a_real_export(db: Database, tmp_path: Path) -> None:
    events = _history(db)
    _rewrite(db, lambda seq: 1 if seq <= 4 else 2)
    with db.session() as s:
        audit.append(s, "user:ops", "kill_switch.set", "proposer", {"on": True, "rate": 0.5})
        as_json = audit.export(s, "json")
        as_csv = audit.export(s, "csv")
        head = s.get(AuditHead, 1)
        assert head is not None
        head_hash = head.hash
    (tmp_path / "export.json").write_text(as_json, encoding="utf-8")
    (tmp_path / "export.csv").write_text(as_csv, encoding="utf-8")
    lines = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in json.loads(as_json))
    (tmp_path / "export.jsonl").write_text(lines, encoding="utf-8")
    for name in ("export.json", "export.csv", "export.jsonl"):
        done = _run(tmp_path / name, "--head", head_hash, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith(f"OK: {events + 1} events verified")
        assert "format 1: 4, format 2:" in done.stdout


def test_the_offline_verifier_rejects_a_tampered_export(db: Database, tmp_path: Path) -> None:
    _history(db)
    _rewrite(db, lambda seq: 1 if seq <= 4 else 2)
    with db.session() as s:
        exported = json.loads(audit.export(s, "json"))
        as_csv = audit.export(s, "csv")
    cases = {
        "payload.json": lambda ev: ev[2]["payload"].update(number=9),  # a format 1 event
        "actor.json": lambda ev: ev[7].update(actor="user:mallory"),  # a format 2 event
        "deleted.json": lambda ev: ev.pop(5),
        "reordered.json": lambda ev: ev.insert(3, ev.pop(4)),
    }
    expected_seq = {"payload.json": 3, "actor.json": 8, "deleted.json": 6, "reordered.json": 4}
    for name, tamper in cases.items():
        events = json.loads(json.dumps(exported))
        tamper(events)
        (tmp_path / name).write_text(json.dumps(events), encoding="utf-8")
        done = _run(tmp_path / name, cwd=tmp_path)
        assert done.returncode == 1, (name, done.stdout)
        assert done.stdout.startswith(f"FAIL at event {expected_seq[name]}:"), (name, done.stdout)
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    rows[1]["payload"] = rows[1]["payload"].replace('"number":1', '"number":2')
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=audit.EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (tmp_path / "tampered.csv").write_text(out.getvalue(), encoding="utf-8")
    done = _run(tmp_path / "tampered.csv", cwd=tmp_path)
    assert (done.returncode, done.stdout[:15]) == (1, "FAIL at event 2")
    # Dropping the newest events leaves a valid prefix: only a head known elsewhere tells.
    (tmp_path / "truncated.json").write_text(json.dumps(exported[:-1]), encoding="utf-8")
    assert _run(tmp_path / "truncated.json", cwd=tmp_path).returncode == 0
    done = _run(tmp_path / "truncated.json", "--head", exported[-1]["hash"], cwd=tmp_path)
    assert done.returncode == 1
    assert "not the head" in done.stdout
    (tmp_path / "junk.json").write_text("not an export", encoding="utf-8")
    assert _run(tmp_path / "junk.json", cwd=tmp_path).returncode == 2


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**23), max_value=10**23)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e-7, 1e-4, 9.9e-5, 1e16, 1e21, 1e20, -0.0, 5e-324, 2.0**53 + 2])
    | st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=6),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=4),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_the_service_and_the_offline_verifier_agree_byte_for_byte(value: object) -> None:
    """Two implementations of one published form: the service's (a fast path through the C
    encoder, and RFC 8785 by hand for the rest) and the offline verifier's (by hand)."""
    assert canonical_json(value) == offline.jcs(value).encode("utf-8")
    text = canonical_json(value)
    assert canonical_json(json.loads(text)) == text  # a fixed point: parsing changes nothing
