"""The console over HTTP without a browser: roles, sessions, CSRF, the log and its reviews."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.app import create_app
from hub.console.queries import MatchField, MatchPair
from hub.console.users import ConsoleRole, ConsoleUser, create_user
from hub.console.web import console_of
from hub.disclosure.log import verify
from hub.disclosure.models import LogEntry
from hub.runtime import Hub
from tests.factories import NHS_CONSENTED, NHS_NO_CONSENT, World, make_world, populate

PASSWORD = "correct horse battery"


@dataclass
class Console:
    api: TestClient
    world: World
    hub: Hub

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        page = self.api.get("/console/sign-in")
        response = self.api.post(
            "/console/sign-in",
            data={"username": username, "password": password, "csrf_token": csrf(page.text)},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text

    def post(self, path: str, data: dict[str, str], page: str) -> object:
        return self.api.post(
            path, data={**data, "csrf_token": csrf(self.api.get(page).text)}, follow_redirects=False
        )


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real argon2id settings cost about a second a hash on this machine; tests use less."""
    monkeypatch.setattr(
        "hub.console.users._hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def console(hub: Hub) -> Iterator[Console]:
    with TestClient(create_app(hub)) as api:
        world = make_world(hub, api)
        populate(world)
        world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}")
        world.ask("COUNCIL", f"nhs|{NHS_NO_CONSENT}")
        world.ask(
            "COUNCIL", f"nhs|{NHS_NO_CONSENT}", purpose="front-door-triage", role="front-door"
        )
        with hub.sessions() as session:
            council = world_agency(session, "COUNCIL")
            create_user(
                session,
                username="ig",
                display_name="IG",
                role=ConsoleRole.IG_OFFICER,
                password=PASSWORD,
            )
            create_user(
                session,
                username="lead",
                display_name="Lead",
                role=ConsoleRole.LEAD_PROFESSIONAL,
                password=PASSWORD,
                agency=council,
                practitioner_ref="EH-1",
            )
            create_user(
                session,
                username="admin",
                display_name="Admin",
                role=ConsoleRole.ADMINISTRATOR,
                password=PASSWORD,
            )
            session.commit()
        yield Console(api=api, world=world, hub=hub)


def world_agency(session: Session, code: str):  # type: ignore[no-untyped-def]
    from hub.agencies.models import Agency

    return session.execute(select(Agency).where(Agency.code == code)).scalar_one()


def log_size(hub: Hub) -> int:
    with hub.sessions() as session:
        return session.execute(select(func.count()).select_from(LogEntry)).scalar_one()


def test_pages_ask_for_sign_in_and_wrong_passwords_are_refused(console: Console) -> None:
    response = console.api.get("/console/log", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/sign-in?next=%2Fconsole%2Flog")
    page = console.api.get("/console/sign-in")
    refused = console.api.post(
        "/console/sign-in",
        data={"username": "ig", "password": "wrong password!", "csrf_token": csrf(page.text)},
    )
    assert refused.status_code == 400
    assert "Enter a correct username and password" in refused.text


def test_session_cookie_is_httponly_samesite_and_scoped(console: Console) -> None:
    page = console.api.get("/console/sign-in")
    cookie = page.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "path=/console" in cookie.lower() and "Max-Age=1800" in cookie
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_a_form_without_its_csrf_token_changes_nothing(console: Console) -> None:
    console.sign_in("ig")
    before = log_size(console.hub)
    response = console.api.post(
        "/console/log/3/review", data={"verdict": "reviewed", "comment": "looks fine"}
    )
    assert response.status_code == 400
    assert "This form has expired" in response.text
    assert log_size(console.hub) == before


def test_sign_out_ends_the_session(console: Console) -> None:
    console.sign_in("ig")
    assert console.api.get("/console/log").status_code == 200
    console.post("/console/sign-out", {}, "/console/")
    assert console.api.get("/console/log", follow_redirects=False).status_code == 303


def test_lead_professional_is_refused_ig_pages_with_a_403_page(console: Console) -> None:
    console.sign_in("lead")
    for path in (
        "/console/log",
        "/console/log.csv",
        "/console/overrides",
        "/console/integrity",
        "/console/matches",
        "/console/subject-access",
        "/console/charts",
        "/console/users",
    ):
        response = console.api.get(path)
        assert response.status_code == 403, path
        assert "You do not have permission to see this page" in response.text


def test_administrator_sees_users_but_not_the_log(console: Console) -> None:
    console.sign_in("admin")
    assert console.api.get("/console/users").status_code == 200
    assert console.api.get("/console/integrity").status_code == 200
    assert console.api.get("/console/log").status_code == 403
    console.post(
        "/console/users",
        {"username": "new.ig", "display_name": "New", "role": "ig-officer", "password": "short"},
        "/console/users",
    )
    with console.hub.sessions() as session:
        assert (
            session.execute(select(ConsoleUser).where(ConsoleUser.username == "new.ig")).first()
            is None
        )


def test_log_filters_by_outcome_practitioner_and_child(console: Console) -> None:
    console.sign_in("ig")
    permits = console.api.get("/console/log", params={"outcome": "permit"})
    assert "1 entry" in permits.text
    denied = console.api.get("/console/log", params={"outcome": "deny"})
    assert "1 entry" in denied.text
    by_child = console.api.get("/console/log", params={"child": NHS_NO_CONSENT})
    assert "2 entries" in by_child.text
    flagged = console.api.get("/console/log", params={"flagged": "yes"})
    assert "1 entry" in flagged.text and "public-task-ca1989-s17" in flagged.text
    unknown = console.api.get("/console/log", params={"child": "9990000018"})
    assert "No child is known" in unknown.text
    bad_date = console.api.get("/console/log", params={"date_from": "yesterday"})
    assert "Enter a real date" in bad_date.text


def test_review_is_a_new_log_entry_and_the_chain_still_verifies(console: Console) -> None:
    console.sign_in("ig")
    with console.hub.sessions() as session:
        decided = session.execute(select(LogEntry).where(LogEntry.outcome == "deny")).scalar_one()
        seq, original = decided.seq, decided.body
    before = log_size(console.hub)
    response = console.post(
        f"/console/log/{seq}/review",
        {"verdict": "questioned", "comment": "Why was this asked?"},
        f"/console/log/{seq}",
    )
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert log_size(console.hub) == before + 1
    with console.hub.sessions() as session:
        assert session.get(LogEntry, seq).body == original  # type: ignore[union-attr]
        review = session.execute(select(LogEntry).order_by(LogEntry.seq.desc())).scalars().first()
        assert review is not None and review.event == "hub:review:recorded"
        assert json.loads(review.body)["review"]["seq"] == seq
        assert verify(session).ok
    questioned = console.api.get("/console/log", params={"review": "questioned"})
    assert f"Decision {seq}<" in questioned.text
    assert "Why was this asked?" in console.api.get(f"/console/log/{seq}").text
    start = console.api.get("/console/")
    assert 'id="count-questioned">1<' in start.text


def test_csv_export_follows_the_filters_and_defuses_formulas(console: Console) -> None:
    console.world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}", practitioner="=HYPERLINK(1)")
    console.sign_in("ig")
    response = console.api.get("/console/log.csv", params={"child": NHS_CONSENTED})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2
    assert {r["practitioner"] for r in rows} == {"P-1", "'=HYPERLINK(1)"}


def test_integrity_page_shows_verification_and_a_signed_tree_head(console: Console) -> None:
    from hub.disclosure import tree

    with console.hub.sessions() as session:
        tree.sign_checkpoint(session, console.hub.log_signer)
        session.commit()
    console.sign_in("ig")
    page = console.api.get("/console/integrity")
    assert "The disclosure log verifies" in page.text
    assert "\u2014 127.0.0.1/disclosure-log " in page.text


def test_child_page_goes_through_the_decision_and_is_logged(console: Console) -> None:
    console.sign_in("lead")
    before = log_size(console.hub)
    page = console.post(
        "/console/children",
        {"identifier": NHS_CONSENTED, "purpose": "team-around-the-family"},
        "/console/children",
    )
    text = page.text  # type: ignore[attr-defined]
    assert page.status_code == 200, text  # type: ignore[attr-defined]
    assert "Oakfield Primary" in text and "A service is involved" in text  # CAMHS shielded
    assert "consent given" in text and "No family members are recorded" in text
    assert log_size(console.hub) == before + 1
    with console.hub.sessions() as session:
        entry = session.execute(select(LogEntry).order_by(LogEntry.seq.desc())).scalars().first()
        assert entry is not None
        body = json.loads(entry.body)
    assert body["requester"]["client"] == "hub-console"
    assert body["requester"]["console_user"] == "lead"
    refused = console.post(
        "/console/children",
        {"identifier": NHS_NO_CONSENT, "purpose": "team-around-the-family"},
        "/console/children",
    )
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert "Olivia" not in refused.text  # type: ignore[attr-defined]


def test_subject_access_report_lists_disclosures_and_is_logged(console: Console) -> None:
    console.sign_in("ig")
    before = log_size(console.hub)
    page = console.post(
        "/console/subject-access", {"identifier": NHS_NO_CONSENT}, "/console/subject-access"
    )
    assert page.status_code == 200  # type: ignore[attr-defined]
    assert "front-door-triage" in page.text  # type: ignore[attr-defined]
    assert log_size(console.hub) == before + 1


@dataclass
class FakeMatchQueue:
    """Stands in for the linkage work's review queue until it lands."""

    pairs: list[MatchPair]
    resolved: list[tuple[str, bool, str]] = field(default_factory=list)
    installed: bool = True

    def pending(self, session: Session, hub: Hub) -> list[MatchPair]:
        done = {pair_id for pair_id, _, _ in self.resolved}
        return [p for p in self.pairs if p.id not in done]

    def resolve(
        self, session: Session, hub: Hub, pair_id: str, *, accept: bool, reviewer: str
    ) -> bool:
        if pair_id not in {p.id for p in self.pending(session, hub)}:
            return False
        self.resolved.append((pair_id, accept, reviewer))
        return True


def test_match_review_shows_pairs_side_by_side_and_sends_the_verdict(console: Console) -> None:
    queue = FakeMatchQueue(
        pairs=[
            MatchPair(
                id="pair-1",
                score=0.87,
                left_source="Community Health Trust",
                right_source="Oakfield Primary",
                fields=[
                    MatchField("Given name", "Jayden", "Jaydon"),
                    MatchField("Family name", "Smyth", "smyth"),
                    MatchField("Date of birth", "2015-04-03", None),
                ],
            )
        ]
    )
    console_of(console.api.app).state.match_queue = queue  # type: ignore[arg-type]
    console.sign_in("ig")
    page = console.api.get("/console/matches")
    assert "Jaydon" in page.text and "0.87" in page.text
    assert [
        m.group(1) for m in re.finditer(r'govuk-tag--(\w+)">(?:agrees|differs|missing)', page.text)
    ] == ["red", "green", "grey"]
    response = console.post("/console/matches/pair-1", {"verdict": "reject"}, "/console/matches")
    assert response.headers["location"] == "/console/matches?done=rejected"  # type: ignore[attr-defined]
    assert queue.resolved == [("pair-1", False, "ig")]
    assert "No pairs are waiting for review" in console.api.get("/console/matches").text


def test_match_review_without_a_linker_queue_says_so(console: Console) -> None:
    console.sign_in("ig")
    assert "does not queue uncertain matches yet" in console.api.get("/console/matches").text


def test_console_starts_without_assets_and_says_so(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hub.console.web.assets_installed", lambda: False)
    page = console.api.get("/console/sign-in")
    assert page.status_code == 200
    assert "hub console assets" in page.text


def test_sessions_slide_while_used_but_end_after_eight_hours(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time as clock

    real = clock.time
    offset = [0.0]
    monkeypatch.setattr(clock, "time", lambda: real() + offset[0])
    console.sign_in("ig")
    for _ in range(16):  # 16 x 29 minutes = 7 h 44 min, never idle for 30 minutes
        offset[0] += 29 * 60
        assert console.api.get("/console/log", follow_redirects=False).status_code == 200
    offset[0] += 29 * 60  # past eight hours since signing in
    assert console.api.get("/console/log", follow_redirects=False).status_code == 303


def test_sessions_end_after_thirty_idle_minutes(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time as clock

    real = clock.time
    console.sign_in("ig")
    monkeypatch.setattr(clock, "time", lambda: real() + 31 * 60)
    assert console.api.get("/console/log", follow_redirects=False).status_code == 303


def test_five_wrong_passwords_lock_the_account(console: Console) -> None:
    for _ in range(5):
        page = console.api.get("/console/sign-in")
        console.api.post(
            "/console/sign-in",
            data={"username": "ig", "password": "wrong password!", "csrf_token": csrf(page.text)},
        )
    page = console.api.get("/console/sign-in")
    locked = console.api.post(
        "/console/sign-in",
        data={"username": "ig", "password": PASSWORD, "csrf_token": csrf(page.text)},
    )
    assert locked.status_code == 400
    assert "locked for 15 minutes" in locked.text


def test_log_pages_follow_on_without_overlap(console: Console) -> None:
    from hub.console import queries

    with console.hub.sessions() as session:
        everything = queries.LogFilter(event="all")
        first = queries.search_log(session, console.hub, everything, page=1, per_page=2)
        second = queries.search_log(session, console.hub, everything, page=2, per_page=2)
        past_the_end = queries.search_log(session, console.hub, everything, page=99, per_page=2)
    assert first.total == second.total and first.pages == -(-first.total // 2)
    seqs = [r.seq for r in first.rows] + [r.seq for r in second.rows]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 4
    assert past_the_end.page == first.pages
    console.sign_in("ig")
    page = console.api.get("/console/log", params={"event": "all", "page": 2})
    assert page.status_code == 200
    if first.total > 25:
        assert 'aria-current="page">2<' in page.text
    else:  # one page of 25 holds everything: a later page number shows that one page
        assert f"{first.total} entries." in page.text
