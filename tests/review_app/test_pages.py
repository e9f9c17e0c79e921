"""Every page of the review UI, as a role allowed to see it: works without JavaScript, labels
every control, has one h1, sends the security headers; the stylesheet keeps text contrast at
WCAG AA and loads nothing from elsewhere; errors are pages for people and problem+json for
the API."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from review_app import access
from rules.store import accounts
from tests.review_app.conftest import Browser, build_path
from tests.review_app.test_authz import ui_routes

CSS = Path(__file__).resolve().parents[2] / "review_app" / "static" / "app.css"


class Page(HTMLParser):
    """What the checks need from a page: controls, labels, headings, scripts, styles."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labels: set[str] = set()
        self.h1 = 0
        self.scripts = 0
        self.inline_styles = 0
        self.external: list[str] = []
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        if tag in ("select", "textarea") or (
            tag == "input" and a.get("type") not in ("hidden", "submit", "button")
        ):
            self.controls.append(a)
        self.h1 += tag == "h1"
        self.scripts += tag == "script"
        self.inline_styles += "style" in a
        for key in ("src", "href"):
            value = a.get(key) or ""
            if tag in ("link", "script", "img") and re.match(r"(https?:)?//", value):
                self.external.append(value)

    def unlabelled(self) -> list[str]:
        return [
            str(c.get("name") or c.get("id"))
            for c in self.controls
            if c.get("id") not in self.labels and not c.get("aria-label")
        ]


def _allowed_role(endpoint: str) -> str | None:
    roles = sorted(access.ACCESS[endpoint] - {access.ANONYMOUS})
    return None if access.ANONYMOUS in access.ACCESS[endpoint] else roles[0]


def test_every_page_is_accessible_without_javascript(
    app: Flask,
    login: Callable[..., Browser],
    anonymous: Browser,
    route_values: dict[str, Any],
) -> None:
    browsers: dict[str | None, Browser] = {None: anonymous}
    checked = 0
    for rule, method in ui_routes(app):
        if method != "GET" or rule.endpoint.startswith("audit.export"):
            continue
        role = _allowed_role(rule.endpoint)
        if role not in browsers:
            browsers[role] = login(role)
        path = build_path(app, rule, route_values)
        response = browsers[role].get(path)
        if response.status_code != 200:
            continue  # a redirect (e.g. / to a landing page): that page is checked itself
        page = Page()
        page.feed(response.get_data(as_text=True))
        where = f"{path} as {role}"
        assert page.lang == "en", where
        assert page.h1 == 1, where
        assert page.unlabelled() == [], where
        assert page.scripts == 0, where
        assert page.inline_styles == 0, where  # the CSP forbids them anyway
        assert page.external == [], where
        assert "default-src 'self'" in response.headers["Content-Security-Policy"], where
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        checked += 1
    assert checked >= 7


def test_the_stylesheet_is_served_and_self_contained(anonymous: Browser) -> None:
    response = anonymous.get("/static/app.css")
    assert response.status_code == 200
    css = response.get_data(as_text=True)
    response.close()
    assert "@import" not in css
    assert "http://" not in css
    assert "https://" not in css
    assert "@media (max-width: 640px)" in css  # a phone layout
    assert ":focus-visible" in css


def _hex(value: str) -> tuple[float, float, float]:
    value = value.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    return tuple(int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def _luminance(color: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _hex(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _color_pairs(css: str) -> list[tuple[str, str, str]]:
    """(selector, text colour, background) of every rule that sets both."""
    root = dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{3,6})", css))

    def resolve(value: str) -> str | None:
        value = value.strip()
        if value.startswith("var("):
            return root.get(value[4:-1].strip())
        return value if re.fullmatch(r"#[0-9a-fA-F]{3,6}", value) else None

    pairs = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        color = re.search(r"(?<![-\w])color:\s*([^;]+);?", body)
        background = re.search(r"background(?:-color)?:\s*([^;]+);?", body)
        if color and background:
            fg, bg = resolve(color.group(1)), resolve(background.group(1))
            if fg and bg:
                pairs.append((selector.strip(), fg, bg))
    return pairs


def test_text_contrast_meets_wcag_aa() -> None:
    css = CSS.read_text(encoding="utf-8")
    pairs = _color_pairs(css)
    assert len(pairs) >= 12  # badges, flashes, buttons, header, body
    weak = [
        (s, fg, bg, round(contrast(fg, bg), 2)) for s, fg, bg in pairs if contrast(fg, bg) < 4.5
    ]
    assert weak == []
    # The contrast computation itself, on known pairs.
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") < 4.5


def test_an_unknown_page_is_a_page_and_an_unknown_api_path_is_a_problem(
    login: Callable[..., Browser], anonymous: Browser
) -> None:
    page = login("analyst").get("/no/such/page")
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    assert "There is no such page" in page.get_data(as_text=True)
    api = anonymous.get("/api/v1/no/such/thing")
    assert api.status_code == 404
    assert api.mimetype == "application/problem+json"
    assert "Content-Security-Policy" not in api.headers


def test_a_service_refusal_is_shown_with_its_message(
    app: Flask, login: Callable[..., Browser]
) -> None:
    response = login("admin").post("/admin/apikeys/unknown-prefix/revoke")
    assert response.status_code == 404
    assert "no API key with prefix &#39;unknown-prefix&#39;" in response.get_data(as_text=True)


def test_an_unexpected_error_is_logged_and_shown_as_a_500_page(
    login: Callable[..., Browser],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = login("admin")

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(accounts, "list_users", broken)
    response = admin.get("/admin/users")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Something went wrong on our side" in text
    assert "boom" not in text
    assert "unexpected error on GET /admin/users" in caplog.text
