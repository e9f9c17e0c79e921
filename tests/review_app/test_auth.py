"""Signing in and out: the real form with its CSRF token, sessions renewed at sign-in, cookie
flags, safe ``next`` redirects, throttling shared by every worker through the database, and
sessions that end when the user is disabled or the session is too old."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, select

from review_app import session_config
from review_app.auth.routes import WRONG, safe_next
from rules.store import accounts
from rules.store.models import LoginFailure
from tests.review_app.conftest import (
    PASSWORD,
    Browser,
    count,
    csrf_token,
    db_of,
    ensure_user,
    make_app,
)


class Clock:
    """A clock the test moves (the app reads ``config["CLOCK"]``)."""

    def __init__(self) -> None:
        self.at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def clock(app: Flask) -> Clock:
    clock = Clock()
    app.config["CLOCK"] = clock
    return clock


def signed_in(browser: Browser) -> bool:
    """Whether the home page opens (it may send a role on to its landing page)."""
    response = browser.get("/")
    if response.status_code in (302, 303):
        return urlsplit(response.location).path != "/login"
    return response.status_code == 200


def test_the_login_page_labels_its_fields(anonymous: Browser) -> None:
    html = anonymous.get("/login").get_data(as_text=True)
    assert '<label for="username">Username</label>' in html
    assert '<label for="password">Password</label>' in html
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert 'autocomplete="current-password"' in html


def test_sign_in_and_out(app: Flask, anonymous: Browser) -> None:
    ensure_user(app, "ann", "analyst")
    assert not signed_in(anonymous)
    response = anonymous.sign_in("ann")
    assert response.status_code == 302
    assert response.location == "/"
    page = anonymous.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Signed in as ann (analyst)." in page
    # GET /logout only offers the button; the POST signs out.
    assert "Sign out of Rulebook" in anonymous.get("/logout").get_data(as_text=True)
    assert signed_in(anonymous)
    response = anonymous.post("/logout")
    assert response.status_code == 302
    assert response.location == "/login"
    assert not signed_in(anonymous)
    assert "You are signed out." in anonymous.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("username", ["ann", "nobody"])
def test_a_wrong_password_or_unknown_user_gets_the_same_answer(
    app: Flask, anonymous: Browser, username: str
) -> None:
    ensure_user(app, "ann", "analyst")
    response = anonymous.sign_in(username, "not the password")
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert WRONG in text
    assert 'value="' + username + '"' in text  # the username is kept, the password is not
    assert "not the password" not in text
    assert not signed_in(anonymous)


def test_missing_fields_are_named(anonymous: Browser) -> None:
    response = anonymous.post("/login", {"username": "", "password": ""})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Enter your username." in text
    assert "Enter your password." in text
    assert 'aria-describedby="username-error"' in text
    assert 'aria-invalid="true"' in text


def test_a_disabled_user_cannot_sign_in(app: Flask, anonymous: Browser) -> None:
    ensure_user(app, "ann", "analyst")
    ensure_user(app, "root", "admin")
    with db_of(app).session() as s:
        accounts.set_user_disabled(s, "ann", True, "user:root")
    assert anonymous.sign_in("ann").status_code == 422
    assert not signed_in(anonymous)


def test_a_signed_out_visitor_returns_to_the_page_asked_for(app: Flask, anonymous: Browser) -> None:
    ensure_user(app, "audrey", "auditor")
    response = anonymous.get("/audit?action=user.created")
    assert response.status_code == 302
    assert response.location == "/login?next=%2Faudit%3Faction%3Duser.created"
    login_page = anonymous.get(response.location).get_data(as_text=True)
    action = login_page.split('<form method="post" action="', 1)[1].split('"', 1)[0]
    assert action == "/login?next=/audit?action%3Duser.created"  # the form keeps next
    response = anonymous.sign_in("audrey", path=action)
    assert response.location == "/audit?action=user.created"


def test_a_form_sent_after_the_session_ended_asks_to_sign_in_again(
    login: Callable[..., Browser],
) -> None:
    admin = login("admin")
    token = admin.token()
    with admin.client.session_transaction() as sess:
        sess.pop("user_id")  # the session ended (expired, or signed out in another tab)
    response = admin.post("/admin/llm", {"state": "on", "csrf_token": token})
    assert response.status_code == 302
    assert response.location == "/login"
    page = admin.get("/login").get_data(as_text=True)
    assert "Your session has ended. Sign in, then send the form again." in page


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "evil.example",
        "/\t/evil.example",
    ],
)
def test_next_never_leaves_the_site(app: Flask, anonymous: Browser, target: str) -> None:
    ensure_user(app, "ann", "analyst")
    response = anonymous.client.post(
        "/login",
        query_string={"next": target},
        data={"username": "ann", "password": PASSWORD, "csrf_token": anonymous.token()},
    )
    assert response.status_code == 302
    assert response.location == "/"


@given(st.text(max_size=40))
def test_safe_next_only_returns_paths_on_this_site(target: str) -> None:
    app = Flask(__name__)
    app.add_url_rule("/", "home.index", lambda: "")
    with app.test_request_context():
        result = safe_next(target)
    parts = urlsplit(result)
    assert not parts.scheme
    assert not parts.netloc
    assert result.startswith("/")
    assert not result.startswith("//")
    assert "\\" not in result


def _session_cookie(response_headers: list[str], name: str) -> str:
    found = [h for h in response_headers if h.startswith(name + "=")]
    assert found, response_headers
    return found[-1]


def test_session_cookie_flags(app: Flask, anonymous: Browser) -> None:
    ensure_user(app, "ann", "analyst")
    response = anonymous.sign_in("ann")
    cookie = _session_cookie(response.headers.getlist("Set-Cookie"), "rulebook_session")
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "path=/" in flags
    assert "secure" not in flags  # off by default, so http://127.0.0.1 works
    assert any(f.startswith("expires=") for f in flags)  # a lifetime, not a browser session


def test_secure_cookies_when_configured(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert session_config({})["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("RULEBOOK_SECURE_COOKIES", "1")
    app = make_app(db_url)
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True
        ensure_user(app, "ann", "analyst")
        client = app.test_client()
        # The token page is fetched over https too, as a browser would with Secure cookies.
        token = csrf_token(
            client.get("/login", base_url="https://localhost").get_data(as_text=True)
        )
        response = client.post(
            "/login",
            base_url="https://localhost",
            headers={"Referer": "https://localhost/login"},
            data={"username": "ann", "password": PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        cookie = _session_cookie(response.headers.getlist("Set-Cookie"), "__Host-rulebook")
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert "secure" in flags
        assert "httponly" in flags
        assert "samesite=lax" in flags
        assert not any(f.startswith("domain=") for f in flags)
    finally:
        db_of(app).dispose()


def test_signing_in_starts_a_new_session(app: Flask, anonymous: Browser) -> None:
    """Session fixation: nothing set before sign-in survives it, the CSRF token included."""
    ensure_user(app, "ann", "analyst")
    token_before = anonymous.token()
    with anonymous.client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
        raw_before = sess["csrf_token"]
    cookie_before = anonymous.client.get_cookie("rulebook_session")
    assert cookie_before is not None
    anonymous.sign_in("ann")
    with anonymous.client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess.get("csrf_token") != raw_before
        assert isinstance(sess["user_id"], int)
    cookie_after = anonymous.client.get_cookie("rulebook_session")
    assert cookie_after is not None
    assert cookie_after.value != cookie_before.value
    # The token from before sign-in no longer works.
    response = anonymous.post("/logout", {"csrf_token": token_before})
    assert response.status_code == 400
    assert signed_in(anonymous)


def test_a_disabled_user_is_signed_out_at_the_next_click(
    app: Flask, login: Callable[..., Browser]
) -> None:
    ann = login("analyst", username="ann")
    admin = login("admin")
    assert signed_in(ann)
    assert admin.post("/admin/users/ann/disable").status_code == 302
    response = ann.get("/")
    assert response.status_code == 302
    assert response.location.startswith("/login")


def test_a_role_change_applies_at_the_next_click(app: Flask, login: Callable[..., Browser]) -> None:
    ann = login("analyst", username="ann")
    admin = login("admin")
    assert ann.get("/audit").status_code == 403
    admin.post("/admin/users/ann/role", {"role": "auditor"})
    assert ann.get("/audit").status_code == 200


def test_a_session_ends_twelve_hours_after_sign_in(
    app: Flask, login: Callable[..., Browser], clock: Clock
) -> None:
    ann = login("analyst", username="ann")
    clock.advance(hours=11, minutes=59)
    assert signed_in(ann)  # each click refreshes the idle timeout, not the hard limit
    clock.advance(minutes=2)
    response = ann.get("/")
    assert response.status_code == 302
    assert response.location.startswith("/login")


class TestThrottling:
    """5 failures for a username (or 3 here for an address) in 15 minutes pause sign-in."""

    @pytest.fixture(autouse=True)
    def _limits(self, app: Flask, clock: Clock) -> None:
        app.config.update(LOGIN_MAX_FAILURES=5, LOGIN_MAX_FAILURES_PER_ADDRESS=8)
        ensure_user(app, "ann", "analyst")
        ensure_user(app, "bob", "approver")

    def test_lockout_then_its_expiry(self, app: Flask, anonymous: Browser, clock: Clock) -> None:
        for _ in range(5):
            assert anonymous.sign_in("ann", "wrong password").status_code == 422
            clock.advance(seconds=30)
        # Locked now: even the right password is refused, without being checked.
        response = anonymous.sign_in("ann")
        assert response.status_code == 429
        text = response.get_data(as_text=True)
        assert "Too many failed sign-ins for this username" in text
        # The first failure (2.5 minutes ago) leaves the 15-minute window in 12.5 minutes.
        assert "try again in 13 minutes" in text
        assert response.headers["Retry-After"] == str(750)
        assert not signed_in(anonymous)
        # Another user from elsewhere is not affected.
        other = Browser(app.test_client())
        assert other.sign_in("bob", environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 302
        # Refused attempts do not extend the lockout; it ends when the window has passed.
        clock.advance(seconds=749)
        assert anonymous.sign_in("ann").status_code == 429
        clock.advance(seconds=2)
        assert anonymous.sign_in("ann").status_code == 302

    def test_a_success_clears_the_username_failures(self, app: Flask, anonymous: Browser) -> None:
        for _ in range(4):
            anonymous.sign_in("ann", "wrong password")
        assert anonymous.sign_in("ann").status_code == 302
        with db_of(app).session() as s:
            assert s.scalars(select(LoginFailure.username)).all() == []
        second = Browser(app.test_client())
        for _ in range(4):
            second.sign_in("ann", "wrong password")
        assert second.sign_in("ann").status_code == 302

    def test_one_address_spraying_many_usernames_is_paused(self, app: Flask) -> None:
        sprayer = Browser(app.test_client())
        for n in range(8):
            assert sprayer.sign_in(f"user{n}", "guess").status_code == 422
        response = sprayer.sign_in("bob")
        assert response.status_code == 429
        assert "your network address" in response.get_data(as_text=True)
        elsewhere = Browser(app.test_client())
        ok = elsewhere.sign_in("bob", environ_base={"REMOTE_ADDR": "192.0.2.7"})
        assert ok.status_code == 302

    def test_workers_share_the_count(self, app: Flask, db_url: str, clock: Clock) -> None:
        """Two apps on one database stand for two gunicorn workers."""
        other = make_app(db_url, CLOCK=clock, LOGIN_MAX_FAILURES=5)
        try:
            first, second = Browser(app.test_client()), Browser(other.test_client())
            for n in range(5):
                browser = first if n % 2 else second
                assert browser.sign_in("ann", "wrong password").status_code == 422
            assert count(app, LoginFailure) == 5
            assert first.sign_in("ann").status_code == 429
            assert second.sign_in("ann").status_code == 429
        finally:
            db_of(other).dispose()

    def test_old_failures_are_pruned(self, app: Flask, anonymous: Browser, clock: Clock) -> None:
        for _ in range(3):
            anonymous.sign_in("ann", "wrong password")
        clock.advance(minutes=16)
        anonymous.sign_in("bob", "wrong password")
        with db_of(app).session() as s:
            assert s.scalars(select(LoginFailure.username)).all() == ["bob"]


def test_behind_a_proxy_the_throttle_counts_the_client_address(db_url: str) -> None:
    """With RULEBOOK_PROXY_HOPS=1 (here PROXY_HOPS), X-Forwarded-For names the client."""
    app = make_app(db_url, PROXY_HOPS=1)
    try:
        ensure_user(app, "ann", "analyst")
        browser = Browser(app.test_client())
        forwarded = {"X-Forwarded-For": "203.0.113.5"}
        browser.sign_in("nobody", "wrong password", headers=forwarded)
        with db_of(app).session() as s:
            assert s.scalars(select(LoginFailure.address)).all() == ["203.0.113.5"]
    finally:
        with db_of(app).session() as s:
            s.execute(delete(LoginFailure))
        db_of(app).dispose()
