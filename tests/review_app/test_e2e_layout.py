"""In headless Chromium at 1,280 px, against ``rulebook serve`` on the HMDA demo: no page of a
review scrolls sideways and no table is wider than its container (with every ``<details>``
opened), the dossier opens with its summary card, and the pictures are drawn: the backtest's
before/after, the frontier of the proposer's run (each point a link that leads to its
proposal) and the ruleset's rates over time.

The demo's history is imported in one go; here it is spread over the eight weeks before now
(as if it had been decided day by day), so that the rates have a shape to draw.
``RULEBOOK_SCREENSHOTS=DIR`` (or ``docs/screenshots.py``) saves the README's screenshots of
the summary card, the frontier and the rates.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright
from sqlalchemy import func, select, update

from rules.store import Database
from rules.store.models import Decision, utcnow
from tests.review_app.browser import (
    APPROVERS,
    NAME,
    Seeded,
    chromium_path,
    follow,
    heading,
    seed,
    serve,
    shoot,
    sign_in,
    text,
    visit,
)

pytestmark = pytest.mark.browser

DESKTOP: ViewportSize = {"width": 1280, "height": 900}
DAYS = 56

# Every <details> opened, then: how much the document scrolls sideways, and each table wider
# than the element that holds it (its id or caption, its width and its holder's).
MEASURE = """() => {
  for (const d of document.querySelectorAll('details')) d.open = true;
  const root = document.documentElement;
  const wide = [];
  for (const t of document.querySelectorAll('table')) {
    const holder = t.parentElement;
    const w = t.getBoundingClientRect().width, room = holder.clientWidth;
    if (w > room + 1) wide.push([t.id || (t.caption && t.caption.textContent) || '?', w, room]);
  }
  return {scroll: root.scrollWidth, client: root.clientWidth, wide: wide};
}"""


@dataclass(frozen=True, slots=True)
class Site:
    base: str
    seeded: Seeded


def spread(url: str) -> None:
    """The imported decisions, oldest first, one day's share after another over ``DAYS``
    days up to now."""
    db = Database(url)
    try:
        with db.session() as s:
            low, high = s.execute(select(func.min(Decision.id), func.max(Decision.id))).one()
            per_day = -(-(high - low + 1) // DAYS)
            now = utcnow()
            for n in range(DAYS):
                first = low + n * per_day
                s.execute(
                    update(Decision)
                    .where(Decision.id.between(first, first + per_day - 1))
                    .values(decided_at=now - timedelta(days=DAYS - 1 - n, hours=1))
                )
    finally:
        db.dispose()


@pytest.fixture
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        yield browser
        browser.close()


@pytest.fixture
def site(db_url: str, tmp_path: Path) -> Iterator[Site]:
    seeded = seed(db_url)
    spread(db_url)
    with serve(db_url, tmp_path) as base:
        yield Site(base, seeded)


def overflow(page: Page) -> list[Any]:
    """What scrolls sideways on ``page`` at this width, every list opened: nothing, or the
    document's widths and the tables wider than their holders."""
    found: dict[str, Any] = page.evaluate(MEASURE)
    wide = list(found["wide"])
    if found["scroll"] > found["client"]:
        wide.append(["the document", found["scroll"], found["client"]])
    return [[page.url, *w] for w in wide]


def test_pages_fit_1280_px_and_show_their_pictures(chromium: Browser, site: Site) -> None:
    # JavaScript on only to measure: the pages have none of their own (the CSP forbids it).
    page = chromium.new_context(viewport=DESKTOP).new_page()
    page.set_default_timeout(15_000)
    sign_in(page, site.base, APPROVERS[0])
    drafts = site.seeded.proposals
    bold = next(r for r in drafts if (r.run or {}).get("role") == "boldest")

    visit(page, f"{site.base}/proposals/{bold.id}")
    assert heading(page) == f"Proposal #{bold.id}: {bold.title}"
    summary = text(page.locator("section", has=page.locator("#summary")))
    assert summary.startswith("Summary What changes")
    assert "Scenario results" in summary
    assert page.locator("#backtest-picture").is_visible()
    frontier = page.locator("#frontier-picture")
    assert frontier.is_visible()
    assert frontier.locator("a").count() == len(drafts)
    shoot(page, "dossier-summary", since="h1", until="section.summary-card + dl.kv")
    shoot(page, "frontier", since="#frontier", until="#changed")
    wide = overflow(page)

    for record in drafts:
        visit(page, f"{site.base}/proposals/{record.id}")
        wide += overflow(page)
    other = next(r for r in drafts if r.id != bold.id)
    visit(page, f"{site.base}/proposals/{bold.id}")
    follow(page, page.locator(f'#frontier-picture a[href$="/proposals/{other.id}"] circle'))
    assert heading(page) == f"Proposal #{other.id}: {other.title}"

    visit(page, f"{site.base}/rulesets/{NAME}")
    rates = page.locator("#rates-picture")
    assert rates.is_visible()
    assert rates.locator("polyline").count() == 2
    assert page.locator("#rates-table tbody tr").count() == DAYS
    shoot(page, "rates", since="#rates-title", until="#versions")
    wide += overflow(page)
    for path in ("/proposals", "/decisions", f"/rulesets/{NAME}/versions/1"):
        visit(page, f"{site.base}{path}")
        wide += overflow(page)
    page.context.close()
    assert not wide, "\n".join(map(str, wide))  # page, table, its width, its holder's
