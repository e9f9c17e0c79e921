"""What the end-to-end browser test stands on (no tests here): Debian's Chromium driven by
Playwright (never ``playwright install``), the real server (``rulebook serve``, gunicorn) on a
free port, the HMDA demo with the deterministic proposer's drafts, a small client for the
decision API, and readers for what a page shows.

``RULEBOOK_SCREENSHOTS=DIR`` makes :func:`shoot` save full-page PNGs into ``DIR``
(``docs/screenshots.py`` sets it); without it nothing is written, so CI never rewrites the
tracked screenshots.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, FloatRect, Locator, Page, ViewportSize

from proposer import AddRule, ProposalRecord, propose_baseline
from rules.store import Database, accounts
from rules.store.demo import load_demo

__all__ = [
    "ANALYST",
    "APPROVERS",
    "CHROMIUM",
    "NAME",
    "PASSWORD",
    "SCREENSHOTS_ENV",
    "Api",
    "Seeded",
    "added_rule",
    "badges",
    "chromium_path",
    "flash",
    "flashes",
    "follow",
    "heading",
    "menu",
    "new_page",
    "seed",
    "serve",
    "shoot",
    "shots",
    "sign_in",
    "sign_out",
    "text",
    "visit",
]

CHROMIUM = Path("/usr/bin/chromium")
RULEBOOK = Path(sys.executable).with_name("rulebook")
SCREENSHOTS_ENV = "RULEBOOK_SCREENSHOTS"
NAME = "mortgage-approval"
PASSWORD = "correct horse battery staple"
ANALYST = "ann"
APPROVERS = ("bea", "cal")
SETUP = "cli:e2e"


def chromium_path() -> str:
    """Debian's Chromium, or a failure that says how to install it (never a skip)."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"the browser tests need Debian's Chromium at {CHROMIUM}, which is missing: run "
            "`make test` (it installs it) or `apt-get install chromium`; do not use "
            "`playwright install`"
        )
    return str(CHROMIUM)


@dataclass(frozen=True, slots=True)
class Seeded:
    """The demo database: the baseline drafts (the frontier, as listed) and an API key's
    plaintext."""

    proposals: tuple[ProposalRecord, ...]
    api_key: str


def seed(url: str) -> Seeded:
    """Load the HMDA demo as ``rulebook demo load`` does, add the test's users and a
    decide+read API key, and record the deterministic proposer's drafts."""
    db = Database(url)
    try:
        with db.session() as s:
            load_demo(s, SETUP)
            accounts.create_user(s, ANALYST, "analyst", PASSWORD, SETUP)
            for name in APPROVERS:
                accounts.create_user(s, name, "approver", PASSWORD, SETUP)
            _, token = accounts.create_api_key(s, "e2e", ["decide", "read"], SETUP)
        with db.session() as s:
            # The frontier: a conservative draft and bolder ones, so the queue has several rows.
            drafts = propose_baseline(s, NAME, actor=SETUP)
    finally:
        db.dispose()
    return Seeded(tuple(drafts), token)


def added_rule(record: ProposalRecord) -> dict[str, Any]:
    """The rule a baseline proposal adds (it has one ``add_rule``)."""
    (op,) = record.operations
    assert isinstance(op, AddRule), op
    rule: dict[str, Any] = op.to_dict()["rule"]
    return rule


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _up(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@contextmanager
def serve(url: str, folder: Path) -> Iterator[str]:
    """``rulebook serve`` (gunicorn, two workers) on ``url``'s database; its base URL."""
    port = _free_port()
    log = folder / "serve.log"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    env["RULEBOOK_INSTANCE_PATH"] = str(folder / "instance")
    args = ["serve", "--port", str(port), "--workers", "2", "--no-access-log"]
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(RULEBOOK), *args, "--database-url", url],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _up(base):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"rulebook serve did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield base
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the master (it stops its workers), then SIGKILL to the group if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class Api:
    """The decision API over HTTP with a Bearer key, as an application calls it."""

    def __init__(self, base: str, key: str) -> None:
        self.base = base
        self.key = key

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}/api/v1{path}", data, method=method)
        request.add_header("Authorization", f"Bearer {self.key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


def follow(page: Page, target: Locator) -> None:
    """Click a link or a form's button, wait until the page it leads to has loaded (after any
    redirect), and fail with that page's text unless it answered 200."""
    with page.expect_navigation() as navigation:
        target.click()
    response = navigation.value
    if response is None or response.status != 200:
        status = response.status if response is not None else "no response"
        shown = page.locator("main").inner_text()[:1500]
        pytest.fail(f"{page.url} answered {status}:\n{shown}")


def new_page(browser: Browser, viewport: ViewportSize, state: Any = None) -> Page:
    """A page in a fresh context with JavaScript disabled (``state``: cookies to carry)."""
    context = browser.new_context(java_script_enabled=False, viewport=viewport, storage_state=state)
    context.set_default_timeout(15_000)
    return context.new_page()


def heading(page: Page) -> str:
    """The page's one ``<h1>``."""
    return page.locator("h1").inner_text().strip()


def badges(page: Page) -> str:
    """The dossier's status line, e.g. "Status submitted Impact high Approvals 0 of 2"."""
    return text(page.locator(".header-badges"))


def flashes(page: Page) -> list[str]:
    """The flash messages on the page, in order."""
    return [t.strip() for t in page.locator(".flashes .flash").all_inner_texts()]


def flash(page: Page, start: str) -> str:
    """The one flash message that starts with ``start``; a failure shows the page's."""
    found = [f for f in flashes(page) if f.startswith(start)]
    if len(found) != 1:
        shown = page.locator("main").inner_text()[:1500]
        pytest.fail(f"no flash {start!r} on {page.url}; flashes {flashes(page)}; page:\n{shown}")
    return found[0]


def sign_in(page: Page, base: str, username: str) -> None:
    """Sign in through ``/login`` as a person does: type, press the button."""
    page.goto(f"{base}/login")
    assert heading(page) == "Sign in"
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    follow(page, page.get_by_role("button", name="Sign in"))
    assert any(f.startswith(f"Signed in as {username} (") for f in flashes(page)), flashes(page)


def sign_out(page: Page) -> None:
    """The header's "Sign out" button (a POST with CSRF)."""
    follow(page, page.locator(".site-user").get_by_role("button", name="Sign out"))
    assert heading(page) == "Sign in"
    assert "You are signed out." in flashes(page)


def menu(page: Page, label: str) -> Locator:
    """A link of the header's main navigation."""
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=label)


def visit(page: Page, url: str) -> None:
    """Open ``url`` (it must answer 200)."""
    response = page.goto(url)
    assert response is not None, url
    assert response.status == 200, (url, response.status)


def text(locator: Locator) -> str:
    """What ``locator`` shows, with runs of whitespace as one space."""
    return " ".join(locator.inner_text().split())


def shots() -> Path | None:
    """Where screenshots go (``$RULEBOOK_SCREENSHOTS``), or None: take none."""
    folder = os.environ.get(SCREENSHOTS_ENV)
    return Path(folder) if folder else None


def shoot(page: Page, name: str, until: str | None = None, since: str | None = None) -> None:
    """``page`` as ``name.png`` in :func:`shots`' folder, if set: the full page, or from the
    element ``since`` down to the element ``until`` (selectors) when the whole page is too
    long for a README."""
    folder = shots()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    clip: FloatRect | None = None
    if until is not None:
        box, size = page.locator(until).bounding_box(), page.viewport_size
        assert box is not None, f"{until} is not on {page.url}"
        assert size is not None
        top = 0.0
        if since is not None:
            start = page.locator(since).bounding_box()
            assert start is not None, f"{since} is not on {page.url}"
            top = max(start["y"] - 16, 0.0)
        clip = {"x": 0, "y": top, "width": size["width"], "height": box["y"] - 8 - top}
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True, clip=clip)
