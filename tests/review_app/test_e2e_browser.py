"""End to end, in headless Chromium with JavaScript off, against ``rulebook serve`` (gunicorn)
on the HMDA demo: an analyst adds a test scenario (a case just over the limit is referred),
raises a baseline proposal's debt-ratio limit through the form, sees the fresh evidence and
submits it; the proposal fails the scenario, so an approver's approval is refused until the
analyst changes the scenario in the proposal's review; two approvers (it is high impact) accept it and the
second activates the new version from the dossier; a decision through the API then uses that
version and the edited rule, and replays identically, while version 1 runs in shadow and the
shadow report on version 1's page shows that live decision; the ruleset's history shows it;
the audit chain verifies and names who did what.

Chromium is Debian's ``/usr/bin/chromium`` (``make test`` installs it); without it the test
fails, it does not skip. ``RULEBOOK_SCREENSHOTS=DIR`` (or ``docs/screenshots.py``) saves the
README's screenshots on the way.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from proposer import ProposalRecord, get_proposal
from rules import audit
from rules.cli import main as rulebook
from rules.store import Database
from tests.review_app.browser import (
    ANALYST,
    APPROVERS,
    NAME,
    Api,
    Seeded,
    added_rule,
    badges,
    chromium_path,
    flash,
    follow,
    heading,
    menu,
    new_page,
    seed,
    serve,
    shoot,
    shots,
    sign_in,
    sign_out,
    text,
    visit,
)

pytestmark = pytest.mark.browser

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
SAVED = re.compile(r"backtest re-run: ([\d,]+) of ([\d,]+) replayed decisions change; impact (\w+)")
TITLE = "Mortgage pre-approval (Boston HMDA demo)"
SCENARIO = "just-over-the-limit"


@dataclass(frozen=True, slots=True)
class Target:
    """The proposal the analyst edits: its new rule's ``pirat <= limit``, before and after."""

    proposal_id: int
    rule_id: str
    old: str
    new: str
    old_title: str
    changed_before: int
    cited: int

    @property
    def title(self) -> str:
        return self.reworded(self.old_title)

    def reworded(self, words: str) -> str:
        return words.replace(f"pirat ≤ {self.old}", f"pirat ≤ {self.new}")


@dataclass(frozen=True, slots=True)
class Site:
    base: str
    url: str
    seeded: Seeded
    target: Target


def choose(seeded: Seeded) -> Target:
    """The first high-impact draft of one rule whose rule has a ``pirat <= limit`` condition;
    the analyst raises that limit by 0.03."""
    for record in seeded.proposals:
        if len(record.operations) != 1:
            continue  # a change of several rules: the walkthrough edits one rule
        rule = added_rule(record)
        leaves = rule["when"].get("all", [rule["when"]])
        limits = [x["value"] for x in leaves if (x["input"], x["op"]) == ("pirat", "le")]
        if record.impact == "high" and limits and record.citations:
            old, new = f"{limits[0]:g}", f"{round(limits[0] + 0.03, 2):g}"
            changed = int((record.evidence or {})["backtest"]["changed"])
            return Target(
                record.id, rule["id"], old, new, record.title, changed, record.citations[0]
            )
    pytest.fail(f"no high-impact baseline draft with a pirat limit in {seeded.proposals}")


@pytest.fixture
def chromium() -> Iterator[Browser]:
    path = chromium_path()
    with sync_playwright() as playwright:
        # Playwright passes --no-sandbox itself (chromium_sandbox=False), which Chromium needs
        # when run as root, as in CI containers: no extra arguments.
        browser = playwright.chromium.launch(executable_path=path, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def site(db_url: str, tmp_path: Path) -> Iterator[Site]:
    seeded = seed(db_url)
    with serve(db_url, tmp_path) as base:
        yield Site(base, db_url, seeded, choose(seeded))


def stored(site: Site, proposal_id: int) -> ProposalRecord:
    db = Database(site.url)
    try:
        with db.session() as s:
            return get_proposal(s, proposal_id)
    finally:
        db.dispose()


def pirat_row(page: Page) -> int:
    """The editor's condition row (1-based) on input ``pirat``."""
    for i in range(1, 10):
        box = page.get_by_label(f"Input {i}", exact=True)
        if box.count() and box.input_value() == "pirat":
            return i
    pytest.fail("the editor shows no condition on pirat")


def reword(page: Page, label: str, t: Target) -> None:
    """Update the limit in a text field's words (title, description, reason)."""
    box = page.get_by_label(label, exact=True)
    box.fill(t.reworded(box.input_value()))


def edit(page: Page, t: Target) -> None:
    """In the editor: raise the limit, and say so in the title, rule text and rationale."""
    assert heading(page) == f"Edit proposal #{t.proposal_id}"
    value = page.get_by_label(f"Value {pirat_row(page)}", exact=True)
    assert value.input_value() == t.old
    value.fill(t.new)
    for label in ("Title", "Description (optional)", "reason"):
        reword(page, label, t)
    rationale = page.get_by_label("Rationale", exact=True)
    extra = f" Edited by {ANALYST}: the limit is raised from {t.old} to {t.new}."
    rationale.fill(rationale.input_value() + extra)
    follow(page, page.get_by_role("button", name="Save and re-run the evidence"))


def analyst_edits_and_submits(page: Page, site: Site) -> None:
    t = site.target
    sign_in(page, site.base, ANALYST)
    follow(page, menu(page, "Proposals"))
    assert heading(page) == "Proposals"
    follow(page, page.get_by_role("link", name=f"Proposal {t.proposal_id}", exact=True))
    assert heading(page) == f"Proposal #{t.proposal_id}: {t.old_title}"
    assert badges(page).startswith("Status draft Impact high")
    follow(page, page.get_by_role("link", name="Edit proposal"))
    edit(page, t)

    assert heading(page) == f"Proposal #{t.proposal_id}: {t.title}"
    found = SAVED.search(flash(page, f"Saved proposal {t.proposal_id}."))
    assert found
    changed, cases = (int(found.group(i).replace(",", "")) for i in (1, 2))
    report = (stored(site, t.proposal_id).evidence or {})["backtest"]
    assert (changed, cases) == (report["changed"], report["cases"])
    assert changed > t.changed_before  # a higher limit changes more of the log
    assert "Editors user:ann" in text(page.locator("dl.kv").first)

    follow(page, page.get_by_role("button", name="Submit for review"))
    flash(page, f"Proposal {t.proposal_id} is submitted for review by an approver.")
    assert badges(page).startswith("Status submitted Impact high Approvals 0 of 2")
    sign_out(page)


def scenario_facts(site: Site) -> dict[str, object]:
    """A case the proposal cites, with the debt ratio at the edited limit: version 1 refers
    it; the edited candidate approves it."""
    status, cited = Api(site.base, site.seeded.api_key).call(
        "GET", f"/decisions/{site.target.cited}"
    )
    assert status == 200, cited
    return {**cited["facts"], "pirat": float(site.target.new)}


def analyst_adds_a_scenario(page: Page, site: Site) -> None:
    sign_in(page, site.base, ANALYST)
    follow(page, menu(page, "Rulesets"))
    follow(page, page.locator(f"#ruleset-{NAME}").get_by_role("link").first)
    follow(page, page.get_by_role("link", name=f"Test scenarios of {NAME}"))
    assert heading(page) == f"Test scenarios of {NAME}"
    page.get_by_label("Scenario id").fill(SCENARIO)
    page.get_by_label("Facts (JSON object)").fill(json.dumps(scenario_facts(site)))
    page.get_by_label("Expected outputs (JSON object)").fill('{"outcome": "refer"}')
    page.get_by_label("Note").fill("Just over the limit: underwriting looks at these.")
    follow(page, page.get_by_role("button", name="Add scenario"))
    flash(page, f"Scenario {SCENARIO} is added to {NAME}.")
    assert "1 of 1 pass" in text(page.locator("#scenario-summary"))
    sign_out(page)


def approval_is_refused_by_the_failing_scenario(page: Page, site: Site) -> None:
    t = site.target
    sign_in(page, site.base, APPROVERS[0])
    visit(page, f"{site.base}/proposals/{t.proposal_id}")
    assert "0 of 1 pass" in text(page.locator("#scenario-result"))
    page.get_by_label("Note for the record").fill("Trying before the scenario is settled.")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Approve (1 of 2)").click()
    response = navigation.value
    assert response is not None
    assert response.status == 409, response.status
    refused = flash(page, f"Proposal {t.proposal_id} fails 1 test scenario")
    assert SCENARIO in refused
    assert badges(page) == "Status submitted Impact high Approvals 0 of 2"
    sign_out(page)


def analyst_changes_the_scenario_in_review(page: Page, site: Site) -> None:
    t = site.target
    sign_in(page, site.base, ANALYST)
    visit(page, f"{site.base}/proposals/{t.proposal_id}")
    row = text(page.locator(f"#scenario-row-{SCENARIO}"))
    assert '{"outcome":"refer"} {"outcome":"approve"}' in row.replace(": ", ":"), row
    change = page.locator(f"#scenario-row-{SCENARIO}").get_by_role("link")
    follow(page, change)
    assert heading(page) == f"Edit scenario {SCENARIO}"
    page.get_by_label("Expected outputs (JSON object)").fill('{"outcome": "approve"}')
    page.get_by_label("Note").fill(f"Approved from now on, with the limit at {t.new}.")
    follow(page, page.get_by_role("button", name="Save scenario"))
    flash(page, f"Scenario {SCENARIO} is changed in the review of proposal {t.proposal_id}")
    assert "1 of 1 pass" in text(page.locator("#scenario-result"))
    changes = text(page.locator("ul.changes"))
    assert f"user:ann updated scenario {SCENARIO}" in changes
    assert "in this review" in changes
    sign_out(page)


def version_1_runs_in_shadow(site: Site) -> None:
    started = CliRunner().invoke(
        rulebook, ["shadow", "start", NAME, "--version", "1", "--database-url", site.url]
    )
    assert started.exit_code == 0, started.output
    time.sleep(1.2)  # the workers look the running shadow up again (their cache lasts 1 s)


def shadow_report_shows_live_decisions(page: Page, site: Site) -> None:
    """Version 1's page: the live decision of version 2, evaluated by version 1 in shadow."""
    deadline = time.monotonic() + 15
    while True:
        visit(page, f"{site.base}/rulesets/{NAME}/versions/1")
        seen = text(page.locator("#shadow-seen"))
        if seen == "1" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert seen == "1", seen
    assert text(page.locator("#shadow-differing")) == "1"
    section = text(page.locator("section", has=page.locator("#version-shadow")))
    assert "Transitions of outcome" in section
    assert "approve refer 1" in section, section


def first_approval(page: Page, browser: Browser, site: Site) -> None:
    t = site.target
    sign_in(page, site.base, APPROVERS[0])
    follow(page, menu(page, "Proposals"))
    row = text(page.locator("#proposals tbody tr", has_text=f"#{t.proposal_id}"))
    assert f" {NAME} v1 submitted high baseline " in row, row
    shoot(page, "queue")
    follow(page, page.get_by_role("link", name=f"Proposal {t.proposal_id}", exact=True))
    assert badges(page) == "Status submitted Impact high Approvals 0 of 2"
    shoot(page, "dossier", until="#document")
    if shots() is not None:
        phone = new_page(browser, PHONE, page.context.storage_state())
        visit(phone, page.url)
        assert heading(phone) == heading(page)
        shoot(phone, "dossier-phone", until="#rationale")
        phone.context.close()
    page.get_by_label("Note for the record").fill("Backtest read; the wider limit holds up.")
    follow(page, page.get_by_role("button", name="Approve (1 of 2)"))
    flash(page, f"Your approval of proposal {t.proposal_id} is recorded (1 of 2).")
    assert badges(page) == "Status submitted Impact high Approvals 1 of 2"
    assert page.get_by_role("button", name=re.compile("^(Approve|Accept)")).count() == 0
    sign_out(page)


def a_bolder_proposal_shows_its_forecast(page: Page, site: Site) -> None:
    """The boldest draft, as the proposer made it: its forecast beside the backtest, an
    estimate with its range, labelled as one."""
    bold = next(r for r in site.seeded.proposals if (r.run or {}).get("role") == "boldest")
    forecast = (bold.evidence or {})["forecast"]
    sign_in(page, site.base, ANALYST)
    visit(page, f"{site.base}/proposals/{bold.id}")
    section = text(page.locator("section", has=page.locator("#forecast")))
    assert section.startswith("Forecast: an out-of-sample estimate"), section
    assert "It is an estimate, not a measurement." in section
    low = f"{forecast['automation_points']['low']:+.2f}".replace("-", "\u2212")
    high = f"{forecast['automation_points']['high']:+.2f}".replace("-", "\u2212")
    assert f"{low} to {high}" in section, section
    shoot(page, "dossier-forecast", since="#backtest", until="#changed")
    sign_out(page)


def second_approval_and_activation(page: Page, site: Site) -> None:
    t = site.target
    sign_in(page, site.base, APPROVERS[1])
    visit(page, f"{site.base}/proposals/{t.proposal_id}")
    follow(page, page.get_by_role("button", name="Accept and create version 2"))
    flash(page, f"Proposal {t.proposal_id} is accepted: version 2 of {NAME} is created.")
    assert badges(page) == "Status accepted Impact high Approvals 2 of 2"
    assert "It is not active: version 1 is." in text(page.locator(".panel--ok"))

    form = page.locator("form", has=page.get_by_role("heading", name="Activate a version"))
    assert form.get_by_label("Version to activate").input_value() == "2"
    form.get_by_label("Note for the record").fill("Accepted by two approvers; start now.")
    follow(page, form.get_by_role("button", name="Activate version"))
    flash(page, f"Version 2 of {NAME} is now active (version 1 was). New decisions use it.")
    assert "It is the active version." in text(page.locator(".panel--ok"))


def decision_uses_the_new_version(site: Site) -> None:
    t = site.target
    api = Api(site.base, site.seeded.api_key)
    status, cited = api.call("GET", f"/decisions/{t.cited}")
    assert status == 200, cited
    # A case the proposal cites, with the debt ratio raised to the new limit: only the
    # edited rule approves it (the original limit was lower).
    facts = {**cited["facts"], "pirat": float(t.new)}
    status, before = api.call("POST", f"/rulesets/{NAME}/decisions", {"facts": facts, "version": 1})
    assert status == 201, before
    assert (before["version"], before["outputs"]["outcome"]) == (1, "refer"), before
    status, made = api.call("POST", f"/rulesets/{NAME}/decisions", {"facts": facts})
    assert status == 201, made
    assert (made["version"], made["outputs"]["outcome"]) == (2, "approve"), made
    assert t.rule_id in made["rule_ids"], made
    assert f"pirat ≤ {t.new}" in made["outputs"]["reason"], made
    status, version = api.call("GET", f"/rulesets/{NAME}/versions/2")
    assert status == 200, version
    (rule,) = [r for r in version["document"]["rules"] if r["id"] == t.rule_id]
    assert {"input": "pirat", "op": "le", "value": float(t.new)} in rule["when"]["all"]
    status, replay = api.call("POST", f"/decisions/{made['decision_id']}/replay")
    assert status == 200, replay
    assert replay["identical"] is True, replay


def history_shows_it(page: Page, site: Site) -> None:
    """The ruleset's page: version 2 active, from the proposal, deciding the API's request."""
    follow(page, menu(page, "Rulesets"))
    follow(page, page.locator(f"#ruleset-{NAME}").get_by_role("link").first)
    assert heading(page) == TITLE
    v2, v1 = text(page.locator("#version-2")), text(page.locator("#version-1"))
    assert v2.startswith("Version 2 active "), v2
    assert f" Proposal {site.target.proposal_id} " in v2
    assert re.search(r" 1 Changes from version 1$", v2), v2  # the API's decision
    assert " 2381 " in v1, v1  # the 2,380 imported and the one pinned to version 1
    newest = text(page.locator("#activation-history tbody tr").first)
    assert newest.endswith(
        "Version 2 Version 1 activation user:cal Accepted by two approvers; start now."
    ), newest
    shoot(page, "history")


def chain_records_who_did_what(site: Site) -> None:
    t = site.target
    db = Database(site.url)
    try:
        with db.session() as s:
            verified = audit.verify(s)
            events = list(audit.events(s))
    finally:
        db.dispose()
    assert verified.ok, verified
    proposal, ruleset = f"proposal:{t.proposal_id}", f"ruleset:{NAME}"
    scenario = f"scenario:{NAME}/{SCENARIO}"
    assert [(e.action, e.actor, e.subject) for e in events if e.actor.startswith("user:")] == [
        ("scenario.added", "user:ann", scenario),
        ("proposal.edited", "user:ann", proposal),
        ("proposal.submitted", "user:ann", proposal),
        ("scenario.updated", "user:ann", scenario),
        ("proposal.approved", "user:bea", proposal),
        ("version.created", "user:cal", ruleset),
        ("proposal.accepted", "user:cal", proposal),
        ("version.activated", "user:cal", ruleset),
    ]
    assert events[-1].action == "shadow.started"
    activated = events[-2]
    assert activated.action == "version.activated"
    assert (activated.payload["number"], activated.payload["previous"]) == (2, 1)


def test_an_edited_proposal_is_accepted_activated_and_decides(
    chromium: Browser, site: Site
) -> None:
    page = new_page(chromium, DESKTOP)
    analyst_adds_a_scenario(page, site)
    analyst_edits_and_submits(page, site)
    approval_is_refused_by_the_failing_scenario(page, site)
    analyst_changes_the_scenario_in_review(page, site)
    first_approval(page, chromium, site)
    a_bolder_proposal_shows_its_forecast(page, site)
    second_approval_and_activation(page, site)
    version_1_runs_in_shadow(site)
    decision_uses_the_new_version(site)
    shadow_report_shows_live_decisions(page, site)
    history_shows_it(page, site)
    page.context.close()
    chain_records_who_did_what(site)
