"""The console in a real browser: the IG officer's and the lead professional's journeys,
with a screenshot and an axe-core accessibility check of every page on the way."""

from __future__ import annotations

import re
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import ARTEFACTS, CHROMIUM, LiveHub

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason=f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium; "
        ".ci/run does)",
    ),
]

_axe = Axe()


def check_page(page: Any, name: str) -> None:
    """Screenshot the page, then fail on any serious or critical accessibility violation."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
    results = _axe.run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: " + "; ".join(bad)


def sign_in(page: Any, live: LiveHub, username: str) -> None:
    page.goto(f"{live.url}/console/")
    assert "/console/sign-in" in page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(live.sign_ins[username].password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/console/$"))


def test_ig_officer_filters_reviews_and_finds_the_review(live: LiveHub, browser_page: Any) -> None:
    page = browser_page
    page.goto(f"{live.url}/console/sign-in")
    check_page(page, "01-sign-in")
    page.get_by_role("button", name="Sign in").click()
    assert page.locator(".govuk-error-summary").is_visible()
    check_page(page, "02-sign-in-errors")

    # Keyboard only: the skip link comes first, then the form in reading order.
    page.goto(f"{live.url}/console/sign-in")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.get_by_label("Username").focus()
    page.keyboard.type("ig.officer")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(live.sign_ins["ig.officer"].password)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/console/$"))
    flagged = int(page.locator("#count-flagged").inner_text())
    assert flagged > 0
    check_page(page, "03-ig-start")

    page.get_by_role("link", name="Disclosure log", exact=True).click()
    page.get_by_label("Outcome").select_option("permit")
    page.get_by_label("Agency asking").select_option("COUNTY-COUNCIL")
    page.get_by_role("button", name="Apply filters").click()
    rows = page.locator("#log-table tbody tr")
    assert rows.count() > 0
    for text in rows.all_inner_texts():
        assert "permit" in text and "COUNTY-COUNCIL" in text
    check_page(page, "04-log-filtered")

    first = rows.first.get_by_role("link")
    seq = first.inner_text().split()[-1]
    first.click()
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"Decision {seq}")
    assert page.locator("#reasons li").count() >= 1
    assert page.locator("#rules li").count() >= 1
    check_page(page, "05-decision")

    page.get_by_role("button", name="Add review to the log").click()
    assert page.locator(".govuk-error-summary").is_visible()
    page.get_by_label("Reviewed: no concerns").check()
    page.get_by_label("Comment").fill("Checked the consent form reference with the council.")
    page.get_by_role("button", name="Add review to the log").click()
    assert "Your review was added" in page.locator(".govuk-notification-banner").inner_text()
    assert "Checked the consent form reference" in page.locator("#reviews").inner_text()
    check_page(page, "06-decision-reviewed")

    page.goto(f"{live.url}/console/log")
    page.get_by_label("Review state").select_option("reviewed")
    page.get_by_role("button", name="Apply filters").click()
    assert page.locator("#log-table tbody tr").count() == 1
    assert page.get_by_role("link", name=f"Decision {seq}", exact=True).is_visible()
    page.get_by_label("Review state").select_option("")
    page.get_by_label("Entries").select_option("reviews")
    page.get_by_role("button", name="Apply filters").click()
    assert page.locator("#log-table tbody tr").count() == 1
    check_page(page, "07-log-reviews")

    for path, name in [
        ("/console/overrides", "08-override-queue"),
        ("/console/charts", "09-charts"),
        ("/console/integrity", "10-integrity"),
        ("/console/matches", "11-matches"),
    ]:
        page.goto(live.url + path)
        check_page(page, name)
    page.goto(f"{live.url}/console/integrity")
    assert "The disclosure log verifies" in page.locator("#verification").inner_text()

    page.goto(f"{live.url}/console/subject-access")
    check_page(page, "12-subject-access-form")
    page.get_by_label("NHS number or unique pupil number").fill(live.nhs("consent given"))
    page.get_by_role("button", name="Produce the report").click()
    assert page.locator("#sar-disclosures tbody tr").count() >= 2
    check_page(page, "13-subject-access-report")


def test_lead_professional_sees_who_else_is_involved_but_not_ig_pages(
    live: LiveHub, browser_page: Any
) -> None:
    page = browser_page
    sign_in(page, live, "lead.professional")
    check_page(page, "20-lead-start")
    page.get_by_role("button", name="Find a child").click()
    check_page(page, "21-find-a-child")
    page.get_by_label("NHS number or unique pupil number").fill(live.nhs("consent given"))
    page.get_by_label("Team around the family").check()
    page.get_by_role("button", name="Find who else is involved").click()
    involved = page.locator("#involvements tbody tr")
    assert involved.count() >= 2
    assert "County Community Health NHS Trust" in page.locator("#involvements").inner_text()
    assert page.locator("#consents li").count() >= 1
    assert page.locator("#family li").count() >= 1
    check_page(page, "22-child")

    page.goto(f"{live.url}/console/children")
    page.get_by_label("NHS number or unique pupil number").fill(live.nhs("consent refused"))
    page.get_by_label("Team around the family").check()
    page.get_by_role("button", name="Find who else is involved").click()
    assert page.get_by_role("heading", name="The hub cannot show you this child").is_visible()
    check_page(page, "23-child-refused")

    for path in ("/console/log", "/console/overrides", "/console/subject-access"):
        response = page.goto(live.url + path)
        assert response is not None and response.status == 403
        assert page.get_by_role("heading", name="You do not have permission").is_visible()
    check_page(page, "24-forbidden")


def test_front_door_and_administrator_pages(live: LiveHub, browser_page: Any) -> None:
    page = browser_page
    sign_in(page, live, "front.door")
    page.goto(f"{live.url}/console/children")
    page.get_by_label("NHS number or unique pupil number").fill(live.nhs("consent refused"))
    page.get_by_role("button", name="Find who else is involved").click()
    assert page.locator("#involvements tbody tr").count() >= 1
    check_page(page, "30-front-door-child")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/console/sign-in$"))

    sign_in(page, live, "admin")
    page.goto(f"{live.url}/console/users")
    check_page(page, "31-users")
    response = page.goto(f"{live.url}/console/log")
    assert response is not None and response.status == 403
