"""/audit: the event log newest first with filters and pages, each payload shown as text,
the chain's verification on demand (intact, then broken at the altered event), and CSV/JSON
exports that match ``rulebook audit export``."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import text, update

from rules import audit
from rules.store import accounts
from rules.store.models import AuditEvent
from tests.review_app.conftest import Browser, audit_seq, db_of

SEQS = re.compile(r'<tr id="event-(\d+)">')


def seqs(html: str) -> list[int]:
    return [int(n) for n in SEQS.findall(html)]


@pytest.fixture
def auditor(app: Flask, login: Callable[..., Browser]) -> Browser:
    browser = login("auditor")
    with db_of(app).session() as s:  # events 2..6 (event 1 created the auditor)
        for n in range(3):
            accounts.create_api_key(s, f"app-{n}", ["read"], "user:root")
        accounts.create_user(s, "ann", "analyst", "a long password", "user:root")
        accounts.set_user_role(s, "ann", "approver", "user:other")
    return browser


def test_newest_first_with_payloads_as_text(app: Flask, auditor: Browser) -> None:
    response = auditor.get("/audit")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert seqs(html) == [6, 5, 4, 3, 2, 1]
    assert "user.role_changed" in html
    assert "&#34;previous&#34;: &#34;analyst&#34;" in html  # the payload, escaped, as text
    assert "6 matching events, newest first." in html


def test_model_text_is_escaped(app: Flask, auditor: Browser) -> None:
    with db_of(app).session() as s:
        accounts.create_api_key(s, "<script>alert(1)</script>", ["read"], "user:root")
    html = auditor.get("/audit").get_data(as_text=True)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("action=apikey.created", [4, 3, 2]),
        ("actor=user:other", [6]),
        ("subject=user:ann", [6, 5]),
        ("action=apikey.created&subject=apikey:none", []),
        ("start=2000-01-01&end=2999-12-31", [6, 5, 4, 3, 2, 1]),
        ("end=2000-01-01", []),
    ],
)
def test_filters(auditor: Browser, query: str, expected: list[int]) -> None:
    response = auditor.get(f"/audit?{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert seqs(html) == expected
    if not expected:
        assert "No events match these filters." in html


def test_dates_are_whole_utc_days(app: Flask, auditor: Browser) -> None:
    with db_of(app).session() as s:
        s.execute(
            update(AuditEvent)
            .where(AuditEvent.seq == 1)
            .values(at=datetime(2026, 2, 3, 23, 59, 59, tzinfo=UTC))
        )
    html = auditor.get("/audit?start=2026-02-03&end=2026-02-03").get_data(as_text=True)
    assert seqs(html) == [1]
    assert seqs(auditor.get("/audit?start=2026-02-04&end=2026-02-04").get_data(as_text=True)) == []


def test_bad_filters_are_named(auditor: Browser) -> None:
    response = auditor.get("/audit?start=2026-13-01&end=2026-01-01")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="start-error"' in html
    assert "Not a valid date value." in html
    response = auditor.get("/audit?start=2026-02-01&end=2026-01-01")
    assert response.status_code == 422
    assert "The end date is before the start date" in response.get_data(as_text=True)


def test_pages_keep_the_filters(app: Flask, auditor: Browser) -> None:
    app.config["AUDIT_PAGE_SIZE"] = 2
    first = auditor.get("/audit").get_data(as_text=True)
    assert seqs(first) == [6, 5]
    assert "Newer events" not in first
    older = re.search(r'href="([^"]+)" rel="next"', first)
    assert older is not None
    second = auditor.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert seqs(second) == [4, 3]
    newer = re.search(r'href="([^"]+)" rel="prev"', second)
    assert newer is not None
    assert seqs(auditor.get(newer.group(1).replace("&amp;", "&")).get_data(as_text=True)) == [6, 5]
    # With a filter, the next page stays filtered.
    filtered = auditor.get("/audit?action=apikey.created").get_data(as_text=True)
    assert seqs(filtered) == [4, 3]
    link = re.search(r'href="([^"]+)" rel="next"', filtered)
    assert link is not None
    assert "action=apikey.created" in link.group(1)
    last = auditor.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert seqs(last) == [2]
    assert 'rel="next"' not in last


def test_verify_on_demand_then_after_tampering(app: Flask, auditor: Browser) -> None:
    page = auditor.get("/audit").get_data(as_text=True)
    assert "Not verified in this session." in page
    assert "Verify now" in page
    response = auditor.post("/audit/verify")
    assert response.status_code == 302
    assert response.location == "/audit"
    page = auditor.get("/audit").get_data(as_text=True)
    assert "The audit chain is intact: 6 events verified." in page  # the flash
    assert "The chain verifies." in page
    with db_of(app).session() as s:
        accounts.create_api_key(s, "later", ["read"], "user:root")
    assert "1 event appended since" in auditor.get("/audit").get_data(as_text=True)
    # Someone edits event 4 in the database.
    with db_of(app).session() as s:
        s.execute(text("UPDATE audit_events SET actor = 'user:nobody' WHERE seq = 4"))
    auditor.post("/audit/verify")
    page = auditor.get("/audit").get_data(as_text=True)
    assert "The audit chain does NOT verify" in page
    assert "The chain does not verify." in page
    assert '<a href="/audit?before=5">event 4</a>' in page
    assert "hash does not match the event&#39;s contents" in page


def _download(auditor: Browser, path: str) -> tuple[str, str]:
    response = auditor.get(path)
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="rulebook-audit-')
    return response.mimetype, response.get_data(as_text=True)


def test_exports_match_the_cli_export(app: Flask, auditor: Browser) -> None:
    with db_of(app).session() as s:
        expected_json = json.loads(audit.export(s, "json"))
        expected_csv = list(csv.DictReader(io.StringIO(audit.export(s, "csv"))))
    mimetype, body = _download(auditor, "/audit/export.json")
    assert mimetype == "application/json"
    assert json.loads(body) == expected_json
    mimetype, body = _download(auditor, "/audit/export.csv")
    assert mimetype == "text/csv"
    assert list(csv.DictReader(io.StringIO(body))) == expected_csv
    assert len(expected_csv) == audit_seq(app) == 6


def test_exports_follow_the_filters_and_page_through_long_chains(
    app: Flask, auditor: Browser
) -> None:
    app.config["AUDIT_EXPORT_BATCH"] = 2  # several short reads
    _, body = _download(auditor, "/audit/export.json?action=apikey.created")
    assert [e["seq"] for e in json.loads(body)] == [2, 3, 4]
    _, body = _download(auditor, "/audit/export.json")
    assert [e["seq"] for e in json.loads(body)] == [1, 2, 3, 4, 5, 6]
    _, body = _download(auditor, "/audit/export.csv?actor=nobody")
    assert body.strip() == ",".join(audit.EXPORT_FIELDS)
    _, body = _download(auditor, "/audit/export.json?actor=nobody")
    assert json.loads(body) == []


def test_an_export_with_a_bad_filter_says_which(auditor: Browser) -> None:
    response = auditor.get("/audit/export.csv?start=yesterday")
    assert response.status_code == 422
    assert "start" in response.get_data(as_text=True)


def test_the_page_links_to_the_exports(auditor: Browser) -> None:
    html = auditor.get("/audit?action=user.created").get_data(as_text=True)
    assert 'href="/audit/export.csv?action=user.created"' in html
    assert 'href="/audit/export.json?action=user.created"' in html
