"""Accounts (issue 14.5): a user changes their own password (the current one required, one
policy, audited, throttled like sign-in); an admin resets one to a temporary password shown
once, after which the user can only change it or sign out."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask

from rules import audit
from rules.store import accounts
from rules.store.models import User
from tests.review_app.conftest import PASSWORD, Browser, audit_seq, count, csrf_token, db_of

NEW = "a brand new passphrase"
SECRET = re.compile(r'<output class="mono secret"[^>]*>([^<]+)</output>')


def last_event(app: Flask) -> audit.AuditRecord:
    with db_of(app).session() as s:
        return list(audit.events(s))[-1]


def change(browser: Browser, current: str, new: str, confirm: str | None = None) -> str:
    response = browser.post(
        "/account/password",
        {"current": current, "password": new, "confirm": new if confirm is None else confirm},
    )
    return f"{response.status_code} {response.get_data(as_text=True)}"


def test_the_page_labels_its_fields(login: Callable[..., Browser]) -> None:
    html = login("analyst").get("/account/password").get_data(as_text=True)
    for label in ("Current password", "New password", "Repeat the new password"):
        assert label in html
    assert 'autocomplete="new-password"' in html
    assert 'autocomplete="current-password"' in html


def test_changing_ones_password(app: Flask, login: Callable[..., Browser]) -> None:
    ann = login("analyst", username="ann")
    response = ann.post("/account/password", {"current": PASSWORD, "password": NEW, "confirm": NEW})
    assert response.status_code == 302
    assert response.location == "/"
    home = ann.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Your password is changed" in home
    event = last_event(app)
    assert (event.actor, event.action, event.subject) == (
        "user:ann",
        "user.password_changed",
        "user:ann",
    )
    assert event.payload == {"username": "ann", "sessions_ended": 0}
    fresh = Browser(app.test_client())
    assert fresh.sign_in("ann").status_code == 422
    assert fresh.sign_in("ann", NEW).status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("not my password", NEW, NEW, "That is not your current password."),
        (PASSWORD, "short", "short", "Use at least 10 characters"),
        (PASSWORD, NEW, "something else", "The two passwords differ"),
        (PASSWORD, "ANN_ANALYST", "ANN_ANALYST", "choose a password that is not the username"),
        (PASSWORD, PASSWORD, PASSWORD, "choose a password other than the current one"),
        ("", NEW, NEW, "Enter your current password."),
    ],
)
def test_a_refused_change_says_why_and_changes_nothing(
    app: Flask,
    login: Callable[..., Browser],
    current: str,
    new: str,
    confirm: str,
    message: str,
) -> None:
    user = login("analyst", username="ann_analyst")
    before = audit_seq(app)
    answer = change(user, current, new, confirm)
    assert answer.startswith("422 "), answer[:200]
    assert message in answer
    assert new not in answer.replace(f'value="{new}"', "") or new == PASSWORD
    wrong_current = current == "not my password"
    assert audit_seq(app) == before + (1 if wrong_current else 0)  # auth.sign_in_failed
    if wrong_current:
        assert last_event(app).payload["form"] == "password"
    with db_of(app).session() as s:
        assert accounts.authenticate_user(s, "ann_analyst", PASSWORD) is not None


def test_guessing_the_current_password_is_throttled(
    app: Flask, login: Callable[..., Browser]
) -> None:
    app.config.update(LOGIN_MAX_FAILURES=3)
    thief = login("analyst", username="ann")  # a session someone else got hold of
    for n in range(3):
        assert change(thief, f"guess number {n}", NEW).startswith("422 ")
    answer = change(thief, PASSWORD, NEW)
    assert answer.startswith("429 ")
    assert "Sign-in is paused: try again in 1 second." in answer
    with db_of(app).session() as s:
        assert accounts.authenticate_user(s, "ann", PASSWORD) is not None


def test_an_admin_reset_shows_a_password_once_and_forces_a_change(
    app: Flask, login: Callable[..., Browser]
) -> None:
    login("analyst", username="ann")
    admin = login("admin")
    response = admin.post("/admin/users/ann/reset-password")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    found = SECRET.search(page)
    assert found is not None
    temporary = found.group(1)
    assert len(temporary) >= 16
    assert response.headers["Cache-Control"] == "no-store"
    event = last_event(app)
    assert (event.actor, event.action, event.subject) == (
        "user:admin",
        "user.password_reset",
        "user:ann",
    )
    assert event.payload == {"username": "ann", "sessions_ended": 1}
    assert temporary not in admin.get("/admin/users").get_data(as_text=True)
    assert "must change password" in admin.get("/admin/users").get_data(as_text=True)

    ann = Browser(app.test_client())
    assert ann.sign_in("ann").status_code == 422  # the old password is gone
    signed = ann.sign_in("ann", temporary)
    assert (signed.status_code, signed.location) == (302, "/account/password")
    for path in ("/", "/proposals", "/login"):
        response = ann.get(path)
        assert (response.status_code, response.location) == (302, "/account/password"), path
    page = ann.get("/account/password").get_data(as_text=True)
    assert "An admin reset your password" in page
    token = {"csrf_token": csrf_token(page)}
    refused = ann.post("/decisions/1/resolve", token, csrf=False)
    assert (refused.status_code, refused.location) == (302, "/account/password")
    body = {**token, "current": temporary, "password": NEW, "confirm": NEW}
    assert ann.post("/account/password", body, csrf=False).status_code == 302
    assert ann.get("/").status_code in (200, 302)
    assert ann.get("/").location != "/account/password"
    with db_of(app).session() as s:
        assert not next(
            u for u in accounts.list_users(s) if u.username == "ann"
        ).must_change_password


def test_a_user_who_must_change_may_still_sign_out(
    app: Flask, login: Callable[..., Browser]
) -> None:
    login("analyst", username="ann")
    with db_of(app).session() as s:
        accounts.reset_password(s, "ann", "temporary pass 1", "cli:test")
    ann = Browser(app.test_client())
    ann.sign_in("ann", "temporary pass 1")
    page = ann.get("/logout")
    assert page.status_code == 200
    token = {"csrf_token": csrf_token(page.get_data(as_text=True))}
    assert ann.post("/logout", token, csrf=False).location == "/login"
    assert ann.get("/account/password").location.startswith("/login")


def test_an_admin_resets_others_not_themselves(app: Flask, login: Callable[..., Browser]) -> None:
    admin = login("admin")
    before = audit_seq(app)
    response = admin.post("/admin/users/admin/reset-password")
    assert response.status_code == 302
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "You cannot reset the password of your own account" in page
    assert admin.post("/admin/users/nobody/reset-password").status_code == 404
    assert audit_seq(app) == before
    assert count(app, User) == 1
