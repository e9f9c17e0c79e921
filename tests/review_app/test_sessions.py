"""Sessions end on the server (issue 12.7): a session cookie copied before signing out, before
a password change, an admin's reset or disabling the user no longer opens anything — the
attack of replaying a captured cookie, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from review_app.auth.session import SESSION_TOKEN
from rules.store.models import UserSession
from tests.review_app.conftest import PASSWORD, Browser, db_of

COOKIE = "rulebook_session"
NEW = "a brand new passphrase"


def captured(browser: Browser) -> str:
    """The session cookie as an attacker would copy it."""
    cookie = browser.client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def replay(app: Flask, value: str) -> int:
    """Send the copied cookie from a new client; the status of the home page (200: in)."""
    client = app.test_client()
    client.set_cookie(COOKIE, value)
    return client.get("/audit").status_code


def test_a_cookie_copied_before_sign_out_stops_working(
    app: Flask, login: Callable[..., Browser]
) -> None:
    auditor = login("auditor")
    copy = captured(auditor)
    assert replay(app, copy) == 200  # the copy works while the session lives ...
    assert auditor.post("/logout").status_code == 302
    assert replay(app, copy) == 302  # ... and not after sign-out: back to the sign-in page
    with db_of(app).session() as s:
        assert s.scalars(select(UserSession.revoked_at)).one() is not None


def test_a_password_change_ends_the_other_sessions_not_this_one(
    app: Flask, login: Callable[..., Browser]
) -> None:
    elsewhere = login("auditor")
    here = login("auditor")
    copy = captured(elsewhere)
    changed = here.post("/account/password", {"current": PASSWORD, "password": NEW, "confirm": NEW})
    assert changed.status_code == 302
    assert replay(app, copy) == 302
    assert elsewhere.get("/audit").status_code == 302
    assert here.get("/audit").status_code == 200


def test_an_admin_reset_ends_every_session(app: Flask, login: Callable[..., Browser]) -> None:
    auditor = login("auditor", username="audrey")
    copy = captured(auditor)
    admin = login("admin")
    assert admin.post("/admin/users/audrey/reset-password").status_code == 200
    assert replay(app, copy) == 302
    assert auditor.get("/audit").status_code == 302


def test_disabling_ends_every_session_for_good(app: Flask, login: Callable[..., Browser]) -> None:
    auditor = login("auditor", username="audrey")
    copy = captured(auditor)
    admin = login("admin")
    assert admin.post("/admin/users/audrey/disable").status_code == 302
    assert replay(app, copy) == 302
    assert admin.post("/admin/users/audrey/enable").status_code == 302
    assert replay(app, copy) == 302  # enabling the user again revives no session


def test_the_cookie_carries_a_token_the_table_keeps_only_hashed(
    app: Flask, login: Callable[..., Browser]
) -> None:
    auditor = login("auditor")
    with auditor.client.session_transaction() as sess:
        token = sess[SESSION_TOKEN]
        assert set(sess) <= {SESSION_TOKEN, "_permanent", "csrf_token", "_flashes"}
    with db_of(app).session() as s:
        row = s.scalars(select(UserSession)).one()
    assert token not in (row.token_hash, row.user_agent, row.address)
    assert len(row.token_hash) == 64
    assert row.address == "127.0.0.1"


def test_signing_in_again_ends_the_session_this_browser_had(
    app: Flask, login: Callable[..., Browser]
) -> None:
    browser = login("auditor", username="audrey")
    before = captured(browser)
    login("admin")  # the user the second sign-in is for
    assert browser.sign_in("admin").status_code == 302
    assert replay(app, before) == 302
    assert browser.get("/admin/users").status_code == 200
