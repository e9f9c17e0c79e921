"""The pictures on the pages, and the dossier's summary card: the backtest's before/after and
the proposer run's frontier on the dossier, the rates over time on the ruleset page; each an
inline SVG (role="img", a <title> and a <desc>, no script) with a table of the same numbers,
each frontier point a link to its proposal, and only the proposals of the same run on it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import update

from proposer import ProposalRecord, propose_baseline, reject_proposal
from proposer.choice import points
from proposer.runs import run_of
from rules.store import versions
from rules.store.decisions.rates import rates
from rules.store.demo import DEMO_SPEC
from rules.store.history import import_csv
from rules.store.models import Decision, utcnow
from tests.proposer.test_baseline import LENIENT, hmda_csv, hmda_doc
from tests.review_app.conftest import Browser, db_of
from tests.review_app.test_proposals_support import (
    NAME,
    logged,
    propose,
    section,
    text_of,
)
from tests.rules.store.storecases import variant

SVG = re.compile(r"<svg\b[^>]*>.*?</svg>", re.S)


def get(browser: Browser, path: str) -> str:
    response = browser.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def svg(html: str, svg_id: str) -> str:
    found = re.search(rf'<svg\b[^>]*\bid="{svg_id}"[^>]*>.*?</svg>', html, re.S)
    assert found, f"no <svg id={svg_id}>"
    return found.group(0)


def accessible(picture: str) -> tuple[str, str]:
    """The picture's title and desc, after checking it is an image that names them."""
    assert 'role="img"' in picture
    ids = re.search(r'aria-labelledby="([^"]+)"', picture)
    assert ids
    title_id, desc_id = ids.group(1).split()
    title = re.search(rf'<title id="{title_id}">(.*?)</title>', picture, re.S)
    desc = re.search(rf'<desc id="{desc_id}">(.*?)</desc>', picture, re.S)
    assert title
    assert desc
    assert "<script" not in picture
    assert "style=" not in picture
    return text_of(title.group(1)), text_of(desc.group(1))


def table_rows(html: str, table_id: str) -> list[list[str]]:
    start = html.index(f'id="{table_id}"')
    body = html[html.index("<tbody>", start) : html.index("</tbody>", start)]
    return [
        [text_of(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def baseline_runs(app: Flask) -> tuple[list[ProposalRecord], list[ProposalRecord]]:
    """Two runs of the baseline proposer on the HMDA slice: the second after the first's
    drafts were rejected (so it drafts the same changes again)."""
    with db_of(app).session() as s:
        versions.create_ruleset(s, hmda_doc(), "cli:setup")
        import_csv(s, NAME, hmda_csv(), DEMO_SPEC, actor="cli:setup")
    with db_of(app).session() as s:
        first = propose_baseline(s, NAME, actor="cli:ann", induction=LENIENT)
    with db_of(app).session() as s:
        for record in first:
            reject_proposal(s, record.id, actor="user:bob", reason="run it again")
    with db_of(app).session() as s:
        second = propose_baseline(s, NAME, actor="cli:ann", induction=LENIENT)
    assert len(first) >= 2
    assert len(second) == len(first)
    return first, second


def test_the_backtest_picture_and_its_table_show_the_evidence(
    app: Flask, login: Callable[..., Browser]
) -> None:
    logged(app)
    made = propose(app)
    html = get(login("analyst"), f"/proposals/{made.id}")
    backtest = section(html, "backtest")
    picture = svg(backtest, "backtest-picture")
    title, desc = accessible(picture)
    assert title.startswith("Before and after: automation, agreement and exception rate")
    report: dict[str, Any] = (made.evidence or {})["backtest"]
    n = report["cases"]
    expected = [
        ["Automation", *(f"{100 * report['automated'][k] / n:.1f}%" for k in ("before", "after"))],
        ["Agreement with people", *(f"{100 * report['agreement'][k]:.1f}%" for k in ("before_rate", "after_rate"))],
        ["Exception rate", *(f"{100 * report['exceptions'][k]:.1f}%" for k in ("before_rate", "after_rate"))],
    ]  # fmt: skip
    assert table_rows(backtest, "backtest-picture-table") == expected
    for label, before, after in expected:
        assert f"{label}: {before} before, {after} after" in desc
        assert f">{before}</text>" in picture  # the value at the bar's end
        assert f">{after}</text>" in picture
    assert len(re.findall(r'class="picture__bar picture__bar--(?:before|after)"', picture)) == 6
    assert "<script" not in html


def test_the_frontier_shows_the_run_and_links_each_point(
    app: Flask, login: Callable[..., Browser]
) -> None:
    first, second = baseline_runs(app)
    with db_of(app).session() as s:
        for record in second:
            assert [p.id for p in run_of(s, record)] == [p.id for p in second]
        assert [p.id for p in run_of(s, first[-1])] == [p.id for p in first]
    shown = second[1]
    html = get(login("approver"), f"/proposals/{shown.id}")
    frontier = section(html, "frontier")
    assert f"Frontier: the run's {len(second)} proposals" in text_of(frontier)
    picture = svg(frontier, "frontier-picture")
    title, desc = accessible(picture)
    assert title.startswith("Expected automation gained against agreement lost")
    links = re.findall(r'<a href="/proposals/(\d+)"', picture)
    assert sorted(map(int, links)) == sorted(p.id for p in second)  # this run only
    assert links[-1] == str(shown.id)  # drawn last, on top
    assert 'picture__dot picture__dot--current"' in picture
    rows = table_rows(frontier, "frontier-table")
    assert len(rows) == len(second)
    for record, row in zip(sorted(second, key=lambda r: r.run["rank"]), rows, strict=True):
        forecast = record.evidence["forecast"]
        gain = points(forecast["automation_points"]["expected"], 2)
        loss = points(-forecast["agreement_points"]["expected"] + 0.0, 2)
        assert row[0].startswith(f"#{record.id}")
        assert row[1:] == [gain, loss, "expected"]
        assert (
            f"Proposal {record.id}{' (this one)' if record.id == shown.id else ''}: "
            f"{gain} points of automation, {loss} points of agreement lost"
        ) in desc
    assert 'href="#frontier"' in html  # listed in "On this page"


def test_a_proposal_no_run_made_has_no_frontier(app: Flask, login: Callable[..., Browser]) -> None:
    logged(app)
    made = propose(app)
    html = get(login("analyst"), f"/proposals/{made.id}")
    assert 'id="frontier"' not in html


def test_the_summary_card_reads_the_dossier_in_a_minute(
    app: Flask, login: Callable[..., Browser]
) -> None:
    _, second = baseline_runs(app)
    record = second[0]
    html = get(login("analyst"), f"/proposals/{record.id}")
    card = text_of(section(html, "summary"))
    assert html.index('id="summary"') < html.index('id="actions"')
    (op,) = record.operations
    assert f"Added rule {op.rule.id}" in card
    report = record.evidence["backtest"]
    assert f"{report['changed']:,} of {report['cases']:,} replayed decisions change" in card
    forecast = record.evidence["forecast"]
    gain = points(forecast["automation_points"]["expected"], 2)
    loss = points(-forecast["agreement_points"]["expected"] + 0.0, 2)
    assert f"{gain} points of automation, {loss} points of agreement lost" in card
    assert "Expected out of sample" in card
    assert "Scenario results No test scenarios ran" in card  # the scenarios' slot
    findings = len(record.evidence.get("checks") or [])
    assert (f"Static checks: {findings} finding" if findings else "Static checks: passed") in card
    assert f"Citations: {len(record.citations)} of {len(record.citations)} verified" in card
    assert "As analyst: edit it, submit it for review." in card
    auditor = text_of(section(get(login("auditor"), f"/proposals/{record.id}"), "summary"))
    assert "Read it: your role (auditor) does not change proposals." in auditor
    approver = text_of(section(get(login("approver"), f"/proposals/{record.id}"), "summary"))
    assert "As approver: reject it. Go to the actions It is a draft: an analyst submits" in approver


def test_an_edited_proposal_says_its_trade_is_fitted(
    app: Flask, login: Callable[..., Browser]
) -> None:
    logged(app)
    made = propose(app)
    card = text_of(section(get(login("analyst"), f"/proposals/{made.id}"), "summary"))
    assert "Measured on the backtest (fitted, in sample): there is no forecast." in card


def test_long_lists_are_collapsed_with_their_counts(
    app: Flask, login: Callable[..., Browser]
) -> None:
    _, second = baseline_runs(app)
    record = max(second, key=lambda r: len(r.citations))
    html = get(login("approver"), f"/proposals/{record.id}")
    cited = section(html, "citations")
    total = len(record.citations)
    verified = record.evidence["citations"]["verified"]
    summary = re.search(r"<details[^>]*>\s*<summary>(.*?)</summary>", cited, re.S)
    assert summary
    assert text_of(summary.group(1)) == f"The {total} cited decisions: {verified} verified"
    assert cited.index("<details") < cited.index('id="citations-table"') < cited.index("</details>")
    changed = section(html, "changed")
    summary = re.search(r"<details[^>]*>\s*<summary>(.*?)</summary>", changed, re.S)
    assert summary
    shown = min(20, record.evidence["backtest"]["changed"])
    total_changed = record.evidence["backtest"]["changed"]
    assert text_of(summary.group(1)) == (
        f"{shown} changed decisions on this page ({total_changed:,} in all)"
    )
    assert changed.index("<details") < changed.index('id="changed-table"')


def test_the_ruleset_page_draws_its_rates_with_activations(
    app: Flask, login: Callable[..., Browser]
) -> None:
    with db_of(app).session() as s:
        versions.create_ruleset(s, hmda_doc(), "cli:setup")
        import_csv(s, NAME, hmda_csv(120), DEMO_SPEC, actor="cli:setup")
        # The imported history, spread over the three days before today and today.
        start = utcnow() - timedelta(days=3, minutes=1)
        for n in range(4):
            s.execute(
                update(Decision)
                .where(Decision.id.between(30 * n + 1, 30 * n + 30))
                .values(decided_at=start + timedelta(days=n))
            )
    with db_of(app).session() as s:
        second = variant(hmda_doc(), lambda d: d.update(title="Version two"))
        versions.create_version(s, NAME, second, base=1, actor="cli:setup", proposal_id=None)
        versions.activate(s, NAME, 2, "cli:setup")
    html = get(login("auditor"), f"/rulesets/{NAME}")
    with db_of(app).session() as s:
        found = rates(s, NAME)
    assert [b.decisions for b in found] == [30, 30, 30, 30]
    picture = svg(html, "rates-picture")
    title, desc = accessible(picture)
    assert title == "Automation and exception rate per day, with version activations"
    assert f"{len(found)} days from {found[0].start.date()}" in desc
    rows = table_rows(html, "rates-table")
    assert rows == [
        [
            b.start.date().isoformat(),
            f"{b.decisions:,}",
            f"{b.automation_rate:.1%}",
            f"{b.exception_rate:.1%}",
            "version 1, version 2" if b is found[-1] else "—",
        ]
        for b in reversed(found)
    ]
    markers = re.findall(r'<text class="picture__value"[^>]*>(v\d[^<]*)</text>', picture)
    assert markers == ["v1, v2"]  # activated moments apart: one label
    assert "Activated: version 1, version 2 on " in desc
    assert len(re.findall(r'class="picture__point picture__point--automation"', picture)) == len(
        found
    )
    assert "<script" not in html


def test_a_ruleset_without_decisions_says_so(app: Flask, login: Callable[..., Browser]) -> None:
    with db_of(app).session() as s:
        versions.create_ruleset(s, hmda_doc(), "cli:setup")
    html = get(login("auditor"), f"/rulesets/{NAME}")
    assert "No decisions are logged yet" in section(html, "rates-title")
    assert 'id="rates-picture"' not in html
