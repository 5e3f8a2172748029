"""Properties of the one decision function, over generated requests and consents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.check import DENY, PERMIT, ConsentView, Provision, in_order
from hub.decision.decide import Item, Override, Requester, decide
from hub.disclosure.flow import OverrideRequest, checked_override
from hub.errors import BadRequest
from hub.vocab import AgencyKind, ConsentStatus, LegalBasis, OverrideReason, Purpose, Role
from policies.engine import SharingRules

# One rules object for the module: its cache of rule tuples warms up across examples (a
# pycasbin evaluation costs milliseconds; a cached one, a dictionary look-up).
RULES = SharingRules(Path(__file__).resolve().parents[2] / "policies")
BY_ID = {rule.id: rule for rule in RULES.rules}
NOW = datetime(2026, 6, 1, tzinfo=UTC)
KINDS = [k.value for k in AgencyKind]
PURPOSES = [p.value for p in Purpose]
ROLES = [r.value for r in Role]
CATEGORIES = ["involvement", "SEX", "PSY", "ETH", "SDV", "POLINT"]
SENSITIVITIES = [None, "SEX", "PSY", "ETH", "SDV", "POLINT"]

sets = st.frozensets


def provisions(depth: int = 2) -> st.SearchStrategy[Provision]:
    leaf = st.builds(
        Provision,
        type=st.sampled_from([PERMIT, DENY]),
        purposes=sets(st.sampled_from(PURPOSES), max_size=2),
        recipient_kinds=sets(st.sampled_from(KINDS), max_size=2),
        categories=sets(st.sampled_from(CATEGORIES), max_size=2),
    )
    if depth == 0:
        return leaf
    return st.builds(
        Provision,
        type=st.sampled_from([PERMIT, DENY]),
        purposes=sets(st.sampled_from(PURPOSES), max_size=3),
        recipient_kinds=sets(st.sampled_from(KINDS), max_size=3),
        categories=sets(st.sampled_from(CATEGORIES), max_size=3),
        provisions=st.lists(provisions(depth - 1), max_size=2).map(tuple),
    )


@st.composite
def consents(draw: st.DrawFn) -> ConsentView:
    status = draw(st.sampled_from(list(ConsentStatus)))
    start = NOW - timedelta(days=draw(st.integers(-30, 400)))
    end = draw(st.none() | st.integers(1, 800).map(lambda d: start + timedelta(days=d)))
    root = draw(provisions())
    root = Provision(
        type=DENY if status == ConsentStatus.REFUSED else PERMIT,
        purposes=root.purposes,
        recipient_kinds=root.recipient_kinds,
        categories=root.categories,
        provisions=root.provisions,
    )
    return ConsentView(
        id=f"c-{draw(st.uuids())}",
        status=status,
        root=root,
        period_start=start,
        period_end=end,
        recorded_at=start + timedelta(seconds=draw(st.integers(0, 1000))),
    )


items = st.lists(
    st.builds(
        Item,
        id=st.uuids().map(str),
        kind=st.just("involvement"),
        source_kind=st.sampled_from(KINDS),
        sensitivity=st.sampled_from(SENSITIVITIES),
    ),
    max_size=5,
    unique_by=lambda i: i.id,
)
requesters = st.builds(
    Requester,
    agency_code=st.just("REQ"),
    agency_kind=st.sampled_from(KINDS),
    client_id=st.just("client"),
    practitioner=st.just("P-1"),
    role=st.sampled_from(ROLES),
)


def active_consent_permits(consent: ConsentView, requester: Requester, purpose: str) -> bool:
    return (
        consent.status == ConsentStatus.ACTIVE
        and consent.in_force(NOW)
        and consent.root.verdict(
            requester.agency_code, requester.agency_kind, purpose, "involvement"
        )
        == PERMIT
    )


@pytest.mark.slow  # each new (recipient, role, purpose) costs a pycasbin evaluation
@settings(max_examples=50, deadline=None)
@given(
    requester=requesters,
    purpose=st.sampled_from(PURPOSES),
    found=items,
    recorded=st.lists(consents(), max_size=6),
)
def test_nothing_is_permitted_without_an_active_consent_or_a_rule_needing_none(
    requester: Requester, purpose: str, found: list[Item], recorded: list[ConsentView]
) -> None:
    decision = decide(
        requester=requester,
        purpose=purpose,
        subject_known=True,
        items=found,
        consents=in_order(recorded),
        rules=RULES,
        at=NOW,
    )

    assert decision.rule_ids, "every decision names at least one rule"
    if not decision.permitted:
        assert not decision.disclosed and not decision.shielded
        return
    by_id = {c.id: c for c in recorded}
    if decision.legal_basis == LegalBasis.CONSENT:
        assert any(
            active_consent_permits(by_id[cid], requester, purpose)
            for cid in decision.consent_ids
            if cid in by_id
        )
    else:
        used = [BY_ID[r] for r in decision.rule_ids if r in BY_ID]
        assert any(
            r.effect == "allow" and not r.needs_consent and r.legal_basis == decision.legal_basis
            for r in used
        )
    for item in found:
        if item.id in decision.disclosed and item.sensitivity:
            # A sensitive service in full needs a consent that names it.
            assert any(
                by_id[cid].root.names(item.sensitivity)
                for cid in decision.consent_ids
                if cid in by_id
            )


@pytest.mark.slow  # each new (recipient, role, purpose) costs a pycasbin evaluation
@settings(max_examples=50, deadline=None)
@given(
    role=st.sampled_from(ROLES),
    kind=st.sampled_from(KINDS),
    purpose=st.sampled_from(PURPOSES),
    known=st.booleans(),
    found=items,
    recorded=st.lists(consents(), max_size=4),
    with_override=st.booleans(),
)
def test_every_decision_names_at_least_one_rule(
    role: str,
    kind: str,
    purpose: str,
    known: bool,
    found: list[Item],
    recorded: list[ConsentView],
    with_override: bool,
) -> None:
    override = (
        Override(
            legal_basis=LegalBasis.SAFEGUARDING_DPA_SCH1_PARA18,
            reason=OverrideReason.CANNOT_BE_GIVEN,
            justification="generated",
        )
        if with_override
        else None
    )
    decision = decide(
        requester=Requester("REQ", kind, "client", "P-1", role),
        purpose=purpose,
        subject_known=known,
        items=found,
        consents=in_order(recorded),
        rules=RULES,
        at=NOW,
        override=override,
    )

    assert len(decision.rule_ids) >= 1
    assert decision.policy_version == RULES.version
    if with_override and decision.permitted:
        assert decision.ig_review


def _covering(start: datetime, end: datetime | None, status: str = "active") -> ConsentView:
    return ConsentView(
        id="the-consent",
        status=status,
        root=Provision(
            type=PERMIT,
            purposes=frozenset({"team-around-the-family"}),
            recipient_kinds=frozenset({"council"}),
        ),
        period_start=start,
        period_end=end,
        recorded_at=start,
    )


LEAD = Requester("REQ", "council", "client", "P-1", "lead-professional")


def _ask(consent: ConsentView, at: datetime) -> bool:
    return decide(
        requester=LEAD,
        purpose="team-around-the-family",
        subject_known=True,
        items=[Item("i", "involvement", "health")],
        consents=[consent],
        rules=RULES,
        at=at,
    ).permitted


@settings(max_examples=100, deadline=None)
@given(days_before=st.integers(1, 1000), lasts=st.integers(1, 1000), after=st.integers(0, 10_000))
def test_withdrawal_and_expiry_take_effect_on_the_next_decision(
    days_before: int, lasts: int, after: int
) -> None:
    start = NOW - timedelta(days=days_before)
    end = start + timedelta(days=lasts)
    consent = _covering(start, end)
    moment = start + timedelta(seconds=after)

    assert _ask(consent, moment) == (moment < end)
    assert not _ask(consent, end), "expired the instant its period ends"
    assert not _ask(_covering(start, end, status="withdrawn"), moment)
    assert not _ask(_covering(start, end, status="entered-in-error"), moment)


@settings(max_examples=100, deadline=None)
@given(
    outer=provisions(depth=0),
    scope_purposes=sets(st.sampled_from(PURPOSES), max_size=2),
    scope_kinds=sets(st.sampled_from(KINDS), max_size=2),
    scope_categories=sets(st.sampled_from(CATEGORIES), max_size=2),
    others=st.lists(provisions(depth=1), max_size=3),
    deny_first=st.booleans(),
    kind=st.sampled_from(KINDS),
    purpose=st.sampled_from(PURPOSES),
    category=st.sampled_from(CATEGORIES),
)
def test_a_deny_provision_beats_a_permit_at_the_same_scope(
    outer: Provision,
    scope_purposes: frozenset[str],
    scope_kinds: frozenset[str],
    scope_categories: frozenset[str],
    others: list[Provision],
    deny_first: bool,
    kind: str,
    purpose: str,
    category: str,
) -> None:
    scope = {
        "purposes": scope_purposes,
        "recipient_kinds": scope_kinds,
        "categories": scope_categories,
    }
    pair = [Provision(type=PERMIT, **scope), Provision(type=DENY, **scope)]
    if deny_first:
        pair.reverse()
    root = Provision(
        type=outer.type,
        purposes=outer.purposes,
        recipient_kinds=outer.recipient_kinds,
        categories=outer.categories,
        provisions=(*others, *pair),
    )

    said = root.verdict("REQ", kind, purpose, category)

    if pair[0].verdict("REQ", kind, purpose, category) is not None and root.in_scope(
        "REQ", kind, purpose
    ):
        assert said == DENY


@settings(max_examples=100, deadline=None)
@given(
    justification=st.text(alphabet=" \t", max_size=30) | st.text(max_size=19),
    role=st.sampled_from(["front-door", "social-worker"]),
)
def test_an_override_without_justification_is_refused(justification: str, role: str) -> None:
    raw = OverrideRequest(
        legal_basis=LegalBasis.SAFEGUARDING_DPA_SCH1_PARA18,
        reason=OverrideReason.WOULD_PREJUDICE_PROTECTION,
        justification=justification,
    )

    with pytest.raises(BadRequest) as refused:
        checked_override(raw, role=role)

    assert refused.value.code == "override-justification-missing"


def test_an_override_by_another_role_is_refused_and_decide_refuses_it_too() -> None:
    raw = OverrideRequest(
        legal_basis="safeguarding-dpa2018-sch1-para18",
        reason="consent-cannot-be-given",
        justification="The child is at immediate risk; parents are the alleged perpetrators.",
    )
    with pytest.raises(Exception, match="front-door or social-work") as refused:
        checked_override(raw, role="teacher")
    assert getattr(refused.value, "status_code", None) == 403

    decision = decide(
        requester=Requester("REQ", "school", "client", "P-1", "teacher"),
        purpose="team-around-the-family",
        subject_known=True,
        items=[],
        consents=[],
        rules=RULES,
        at=NOW,
        override=Override("safeguarding-dpa2018-sch1-para18", "consent-cannot-be-given", "x" * 30),
    )
    assert decision.reasons == ("override-not-allowed-for-role",)


def test_consent_is_never_an_override_basis() -> None:
    raw = OverrideRequest(
        legal_basis="consent",
        reason="consent-cannot-be-given",
        justification="The child is at immediate risk; parents are the alleged perpetrators.",
    )
    with pytest.raises(BadRequest) as refused:
        checked_override(raw, role="front-door")
    assert refused.value.code == "override-legal-basis"


def test_not_telling_the_family_needs_a_reason() -> None:
    raw = OverrideRequest(
        legal_basis="public-task-ca1989-s47",
        reason="seeking-consent-would-prejudice-protection",
        justification="Professional meeting on suspected fabricated illness.",
        family_told="no",
    )
    with pytest.raises(BadRequest) as refused:
        checked_override(raw, role="social-worker")
    assert refused.value.code == "override-not-told-reason-missing"
