"""What the console reads, over the hub's own tables; kept apart from the pages.

Every function here takes a session (and the hub where keys or rules are needed) and returns
plain dataclasses, so the pages never touch the ORM. Other parts of the hub will grow
services for the same questions (IG search and review over the log, signed tree heads,
consent overrides, the match review queue); each function here is a seam where one of those
services can be put in its place without touching a page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from consent.models import ConsentRecord
from hub.agencies.models import Agency
from hub.db.base import utcnow
from hub.disclosure import log, tree
from hub.disclosure.models import LogEntry
from hub.disclosure.search import review_body
from hub.identifiers import (
    NHS_NUMBER_SYSTEM,
    UPN_SYSTEM,
    Identifier,
    InvalidIdentifier,
    format_nhs_number,
    normalise,
    parse_identifier,
)
from hub.involvements.models import Involvement
from hub.people.models import AgencyRecord, RecordIdentifier, Relationship
from hub.people.resolve import resolve
from hub.runtime import Hub
from hub.vocab import ConsentStatus, LogEvent

PAGE_SIZE = 25

# Decisions an IG officer should look at: information shared without the family's consent.
OVERRIDE_REASONS = ("shared-despite-recorded-refusal", "rule-needs-no-consent")

REASON_TEXT = {
    "consent-on-record": "The family's recorded consent covers this recipient and purpose.",
    "rule-needs-no-consent": "A sharing rule whose legal basis does not need consent applies.",
    "shared-despite-recorded-refusal": (
        "Shared although the family refused consent: the rule's legal basis stands without it."
    ),
    "sensitive-services-shielded": (
        "Sensitive services were shown only as 'a service is involved', with no detail."
    ),
    "no-sharing-rule": "No sharing rule lets this recipient have this for this purpose.",
    "denied-by-rule": "A sharing rule forbids this.",
    "no-consent": "A rule allows this only with consent, and none is recorded.",
    "consent-refused": "The family refused consent for this.",
    "subject-not-found": "No child is known by that identifier (answered as 'not permitted').",
    "subject-ambiguous": "The identifier names more than one person, so it names nobody.",
    "default-deny": "Nothing permitted it, so it was refused (deny by default).",
}

REVIEW_VERDICTS = {
    "reviewed": "Reviewed: no concerns",
    "questioned": "Questioned: needs follow-up",
}


class ChildNotFound(LookupError):
    """The identifier given in the console names no one (or more than one person)."""


# ---------------------------------------------------------------------------------------
# Reading fields out of the JSON body of a log entry, on SQLite and PostgreSQL alike.


def _json_text(session: Session, column: InstrumentedAttribute[str], *path: str) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.jsonb_extract_path_text(column.cast(JSONB), *path)
    return func.json_extract(column, "$." + ".".join(path))


# ---------------------------------------------------------------------------------------
# The disclosure log: filter, page, read one entry, review.


@dataclass(frozen=True)
class LogFilter:
    child: str = ""
    practitioner: str = ""
    agency: str = ""
    purpose: str = ""
    legal_basis: str = ""
    outcome: str = ""
    date_from: date | None = None
    date_to: date | None = None
    review: str = ""
    event: str = "decisions"
    flagged: bool = False

    def active(self) -> dict[str, str]:
        """The filters in use, as query parameters (for paging links and CSV export)."""
        values = {
            "child": self.child,
            "practitioner": self.practitioner,
            "agency": self.agency,
            "purpose": self.purpose,
            "legal_basis": self.legal_basis,
            "outcome": self.outcome,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "review": self.review,
            "event": self.event if self.event != "decisions" else "",
            "flagged": "yes" if self.flagged else "",
        }
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class LogRow:
    seq: int
    entry_id: str
    recorded_at: datetime
    event: str
    subject: str | None
    agency: str | None
    outcome: str | None
    purpose: str | None
    legal_basis: str | None
    practitioner: str | None
    role: str | None
    reasons: tuple[str, ...]
    review: str | None
    flagged: bool


@dataclass(frozen=True)
class LogPage:
    rows: list[LogRow]
    total: int
    page: int
    pages: int


def child_identifier(text: str) -> Identifier:
    """What a person types to name a child: an NHS number, a UPN, or ``system|value``."""
    text = text.strip()
    if "|" in text:
        return parse_identifier(text)
    if text.replace(" ", "").replace("-", "").isdigit():
        return normalise(NHS_NUMBER_SYSTEM, text)
    return normalise(UPN_SYSTEM, text)


def find_child(session: Session, hub: Hub, text: str) -> str:
    """The pseudonymous id of the child the console user named."""
    try:
        identifier = child_identifier(text)
    except InvalidIdentifier as exc:
        raise ChildNotFound(str(exc)) from None
    found = resolve(session, hub.crypto.blind, identifier).person_id
    if found is None:
        raise ChildNotFound("No child is known to the hub by that identifier.")
    return found


STATE_OF_VERDICT = {"reviewed": "accepted", "questioned": "concern"}
"""The console's words for a review, as the log's review states (hub/disclosure/search.py)."""


def _verdict_of(state: str | None) -> str | None:
    return {"accepted": "reviewed", "concern": "questioned", "flagged": "questioned"}.get(
        state or ""
    )


def _review_verdict(session: Session) -> Any:
    """The latest review of each entry, in the console's words, as a correlated subquery.

    Reviews made here and through the IG API are the same kind of log entry, so either
    shows in both.
    """
    review = aliased(LogEntry)
    state = _json_text(session, review.body, "review", "state")
    verdict = case(
        (state == "accepted", "reviewed"),
        (state.in_(["concern", "flagged"]), "questioned"),
        else_=None,
    )
    return (
        select(verdict)
        .where(
            review.event == str(LogEvent.REVIEW_RECORDED),
            _json_text(session, review.body, "review", "entry_id") == LogEntry.entry_id,
        )
        .order_by(review.seq.desc())
        .limit(1)
        .correlate(LogEntry)
        .scalar_subquery()
    )


def _flagged_condition() -> ColumnElement[bool]:
    # Reasons are codes inside the canonical JSON body; matching the quoted code is exact.
    return and_(
        LogEntry.event == str(LogEvent.DISCLOSURE_DECIDED),
        or_(*(LogEntry.body.contains(f'"{reason}"') for reason in OVERRIDE_REASONS)),
    )


def _conditions(session: Session, hub: Hub, given: LogFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if given.event == "decisions":
        where.append(LogEntry.event == str(LogEvent.DISCLOSURE_DECIDED))
    elif given.event == "reviews":
        where.append(LogEntry.event == str(LogEvent.REVIEW_RECORDED))
    if given.child:
        where.append(LogEntry.subject == find_child(session, hub, given.child))
    if given.agency:
        where.append(LogEntry.agency == given.agency)
    if given.outcome:
        where.append(LogEntry.outcome == given.outcome)
    if given.practitioner:
        where.append(
            _json_text(session, LogEntry.body, "requester", "practitioner") == given.practitioner
        )
    if given.purpose:
        where.append(_json_text(session, LogEntry.body, "purpose") == given.purpose)
    if given.legal_basis:
        where.append(
            _json_text(session, LogEntry.body, "decision", "legal_basis") == given.legal_basis
        )
    if given.date_from:
        where.append(LogEntry.recorded_at >= datetime.combine(given.date_from, time(), UTC))
    if given.date_to:
        end = datetime.combine(given.date_to + timedelta(days=1), time(), UTC)
        where.append(LogEntry.recorded_at < end)
    if given.flagged:
        where.append(_flagged_condition())
    if given.review:
        verdict = _review_verdict(session)
        if given.review == "unreviewed":
            where.append(verdict.is_(None))
        else:
            where.append(verdict == given.review)
    return where


def _row(entry: LogEntry, review: str | None) -> LogRow:
    body = json.loads(entry.body)
    decision = body.get("decision") or {}
    requester = body.get("requester") or {}
    reasons = tuple(decision.get("reasons") or ())
    return LogRow(
        seq=entry.seq,
        entry_id=entry.entry_id,
        recorded_at=entry.recorded_at,
        event=entry.event,
        subject=entry.subject,
        agency=entry.agency,
        outcome=entry.outcome,
        purpose=body.get("purpose"),
        legal_basis=decision.get("legal_basis"),
        practitioner=requester.get("practitioner"),
        role=requester.get("role"),
        reasons=reasons,
        review=review,
        flagged=entry.event == LogEvent.DISCLOSURE_DECIDED
        and any(r in OVERRIDE_REASONS for r in reasons),
    )


def search_log(
    session: Session, hub: Hub, given: LogFilter, *, page: int = 1, per_page: int = PAGE_SIZE
) -> LogPage:
    """One page of the log, newest first, with each entry's review state."""
    where = _conditions(session, hub, given)
    total = session.execute(select(func.count()).select_from(LogEntry).where(*where)).scalar_one()
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = session.execute(
        select(LogEntry, _review_verdict(session))
        .where(*where)
        .order_by(LogEntry.seq.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return LogPage(
        rows=[_row(entry, review) for entry, review in rows], total=total, page=page, pages=pages
    )


def export_log(session: Session, hub: Hub, given: LogFilter, limit: int = 100_000) -> list[LogRow]:
    rows = session.execute(
        select(LogEntry, _review_verdict(session))
        .where(*_conditions(session, hub, given))
        .order_by(LogEntry.seq)
        .limit(limit)
    ).all()
    return [_row(entry, review) for entry, review in rows]


@dataclass(frozen=True)
class Review:
    seq: int
    recorded_at: datetime
    reviewer: str
    reviewer_name: str
    verdict: str
    comment: str


@dataclass(frozen=True)
class ConsentSummary:
    id: str
    status: str
    given_by: str
    recorded_by: str
    method: str
    form_reference: str | None
    purposes: list[str]
    recipients: list[str]
    categories: list[str]
    excluded_categories: list[str]
    period_start: datetime
    period_end: datetime | None
    withdrawn_at: datetime | None


@dataclass(frozen=True)
class RuleSummary:
    id: str
    text: str
    legal_basis: str | None


@dataclass(frozen=True)
class LogDetail:
    row: LogRow
    body: dict[str, Any]
    leaf_hash: str
    chain_hash: str
    reviews: list[Review]
    rules: list[RuleSummary]
    consents: list[ConsentSummary]
    justification: str | None


def _reviews_of(session: Session, entry_id: str) -> list[Review]:
    rows = session.execute(
        select(LogEntry)
        .where(
            LogEntry.event == str(LogEvent.REVIEW_RECORDED),
            _json_text(session, LogEntry.body, "review", "entry_id") == entry_id,
        )
        .order_by(LogEntry.seq)
    ).scalars()
    reviews = []
    for row in rows:
        body = json.loads(row.body)
        review, reviewer = body["review"], body.get("reviewer") or {}
        who = str(reviewer.get("console_user") or reviewer.get("practitioner") or "")
        reviews.append(
            Review(
                seq=row.seq,
                recorded_at=row.recorded_at,
                reviewer=who,
                reviewer_name=str(reviewer.get("name") or who),
                verdict=_verdict_of(review.get("state")) or "questioned",
                comment=review.get("comment", ""),
            )
        )
    return reviews


def _rules(hub: Hub, ids: Sequence[str]) -> list[RuleSummary]:
    known = {rule.id: rule for rule in hub.rules.rules}
    summaries = []
    for rule_id in ids:
        rule = known.get(rule_id)
        if rule is None:
            summaries.append(RuleSummary(rule_id, "Deny by default: no rule matched.", None))
            continue
        consent = "with consent" if rule.needs_consent else "without consent"
        text = (
            f"{rule.effect.capitalize()}: {rule.recipient_kind} {rule.role} may have "
            f"{rule.information} for {rule.purpose}, {consent}"
        )
        summaries.append(RuleSummary(rule.id, text, rule.legal_basis))
    return summaries


def _consent_summary(record: ConsentRecord, agency_names: dict[int, str]) -> ConsentSummary:
    recipients = json.loads(record.recipient_agencies) + json.loads(record.recipient_kinds)
    return ConsentSummary(
        id=record.id,
        status=record.status,
        given_by=record.given_by,
        recorded_by=agency_names.get(record.recorded_by_agency_id, "an agency"),
        method=record.method,
        form_reference=record.form_reference,
        purposes=json.loads(record.purposes),
        recipients=recipients,
        categories=json.loads(record.categories),
        excluded_categories=json.loads(record.excluded_categories),
        period_start=record.period_start,
        period_end=record.period_end,
        withdrawn_at=record.withdrawn_at,
    )


def _agency_names(session: Session) -> dict[int, str]:
    return {a.id: a.name for a in session.execute(select(Agency)).scalars()}


def log_entry(session: Session, hub: Hub, seq: int) -> LogDetail | None:
    entry = session.get(LogEntry, seq)
    if entry is None:
        return None
    reviews = _reviews_of(session, entry.entry_id)
    row = _row(entry, reviews[-1].verdict if reviews else None)
    body = json.loads(entry.body)
    decision = body.get("decision") or {}
    consent_ids = decision.get("consent_ids") or []
    names = _agency_names(session)
    consents = [
        _consent_summary(record, names)
        for record in session.execute(
            select(ConsentRecord).where(ConsentRecord.id.in_(consent_ids))
        ).scalars()
    ]
    justification = body.get("justification") or (body.get("override") or {}).get("justification")
    return LogDetail(
        row=row,
        body=body,
        leaf_hash=entry.leaf_hash,
        chain_hash=entry.chain_hash,
        reviews=reviews,
        rules=_rules(hub, decision.get("rule_ids") or []),
        consents=consents,
        justification=justification,
    )


def record_review(
    session: Session,
    entry: LogDetail,
    *,
    reviewer: str,
    reviewer_name: str,
    verdict: str,
    comment: str,
) -> log.Receipt:
    """A review is a new entry in the log, never a change to the entry it is about."""
    if verdict not in REVIEW_VERDICTS:
        raise ValueError("unknown review verdict")
    return log.append(
        session,
        event=LogEvent.REVIEW_RECORDED,
        subject=entry.row.subject,
        body=review_body(
            seq=entry.row.seq,
            entry_id=entry.row.entry_id,
            state=STATE_OF_VERDICT[verdict],
            comment=comment,
            reviewer={"console_user": reviewer, "name": reviewer_name},
        ),
    )


# ---------------------------------------------------------------------------------------
# Counts and charts for the start page.


@dataclass(frozen=True)
class Counts:
    decisions: int
    decisions_today: int
    flagged_unreviewed: int
    questioned: int
    denied: int


def counts(session: Session) -> Counts:
    decided = LogEntry.event == str(LogEvent.DISCLOSURE_DECIDED)
    verdict = _review_verdict(session)
    today = datetime.combine(utcnow().date(), time(), UTC)

    def count(*where: ColumnElement[bool]) -> int:
        return session.execute(
            select(func.count()).select_from(LogEntry).where(decided, *where)
        ).scalar_one()

    return Counts(
        decisions=count(),
        decisions_today=count(LogEntry.recorded_at >= today),
        flagged_unreviewed=count(_flagged_condition(), verdict.is_(None)),
        questioned=count(verdict == "questioned"),
        denied=count(LogEntry.outcome == "deny"),
    )


def decisions_per_day(session: Session, days: int = 14) -> list[tuple[date, str, str, int]]:
    """(day, agency, outcome, count) for the last ``days`` days, from the indexed columns."""
    since = datetime.combine(utcnow().date() - timedelta(days=days - 1), time(), UTC)
    rows = session.execute(
        select(LogEntry.recorded_at, LogEntry.agency, LogEntry.outcome).where(
            LogEntry.event == str(LogEvent.DISCLOSURE_DECIDED), LogEntry.recorded_at >= since
        )
    ).all()
    tally: dict[tuple[date, str, str], int] = {}
    for moment, agency, outcome in rows:
        key = (moment.date(), agency or "(unauthenticated)", outcome or "deny")
        tally[key] = tally.get(key, 0) + 1
    return sorted((day, agency, outcome, n) for (day, agency, outcome), n in tally.items())


def overrides_per_week(session: Session, weeks: int = 12) -> list[tuple[date, int]]:
    """(Monday of the week, decisions shared without consent) for the last ``weeks`` weeks."""
    today = utcnow().date()
    first = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    moments = session.execute(
        select(LogEntry.recorded_at).where(
            _flagged_condition(), LogEntry.recorded_at >= datetime.combine(first, time(), UTC)
        )
    ).scalars()
    tally = {first + timedelta(weeks=w): 0 for w in range(weeks)}
    for moment in moments:
        day = moment.date()
        monday = day - timedelta(days=day.weekday())
        if monday in tally:
            tally[monday] += 1
    return sorted(tally.items())


def agencies(session: Session) -> list[tuple[str, str]]:
    return [
        (a.code, a.name) for a in session.execute(select(Agency).order_by(Agency.name)).scalars()
    ]


# ---------------------------------------------------------------------------------------
# Log integrity.


@dataclass(frozen=True)
class TreeHead:
    size: int
    root_hash: str
    note: str
    public_key: str
    source: str


@dataclass(frozen=True)
class Integrity:
    verification: log.Verification
    tree_head: TreeHead | None


def latest_signed_tree_head(session: Session, hub: Hub) -> TreeHead | None:
    """The newest tree head the hub has signed and published (hub/disclosure/tree.py)."""
    signed = tree.latest_checkpoint(session)
    if signed is None:
        return None
    return TreeHead(
        size=signed.size,
        root_hash=signed.root_hash,
        note=signed.note,
        public_key=hub.log_signer.vkey,
        source=f"signed by this hub at {signed.signed_at:%Y-%m-%d %H:%M} UTC",
    )


def integrity(session: Session, hub: Hub) -> Integrity:
    verification = log.verify(session)
    return Integrity(verification=verification, tree_head=latest_signed_tree_head(session, hub))


# ---------------------------------------------------------------------------------------
# A child, as the console may show them once a decision allows it.


@dataclass(frozen=True)
class Identity:
    given_name: str | None
    family_name: str | None
    birth_date: str | None
    nhs_number: str | None


@dataclass(frozen=True)
class FamilyMember:
    relationship: str
    name: str
    reported_by: str


def identity(session: Session, hub: Hub, person_id: str) -> Identity:
    """The child's name and date of birth as the first agency that registered them holds it."""
    records = (
        session.execute(
            select(AgencyRecord)
            .where(AgencyRecord.person_id == person_id)
            .order_by(AgencyRecord.created_at)
        )
        .scalars()
        .all()
    )
    cipher = hub.crypto.cipher
    nhs = None
    for record in records:
        for ident in record.identifiers:
            if ident.system == NHS_NUMBER_SYSTEM and nhs is None:
                value = cipher.decrypt(ident.value_enc, column="record_identifier.value")
                nhs = format_nhs_number(value) if value else None
    if not records:
        return Identity(None, None, None, nhs)
    first = records[0]
    return Identity(
        given_name=cipher.decrypt(first.given_name_enc, column="agency_record.given_name"),
        family_name=cipher.decrypt(first.family_name_enc, column="agency_record.family_name"),
        birth_date=cipher.decrypt(first.birth_date_enc, column="agency_record.birth_date"),
        nhs_number=nhs,
    )


def family(session: Session, hub: Hub, person_id: str) -> list[FamilyMember]:
    ties = session.execute(
        select(Relationship).where(
            or_(Relationship.person_id == person_id, Relationship.related_person_id == person_id)
        )
    ).scalars()
    names = _agency_names(session)
    members: list[FamilyMember] = []
    seen: set[tuple[str, str]] = set()
    for tie in ties:
        other = tie.related_person_id if tie.person_id == person_id else tie.person_id
        kind = tie.kind if tie.person_id == person_id else f"child of ({tie.kind})"
        if (other, kind) in seen:
            continue
        seen.add((other, kind))
        who = identity(session, hub, other)
        name = " ".join(n for n in (who.given_name, who.family_name) if n) or "Name not held"
        members.append(FamilyMember(kind, name, names.get(tie.agency_id, "an agency")))
    return members


def consents_in_force(session: Session, person_id: str, at: datetime) -> list[ConsentSummary]:
    """Consents and refusals that speak for the family now (withdrawn and expired left out)."""
    names = _agency_names(session)
    rows = session.execute(
        select(ConsentRecord)
        .where(
            ConsentRecord.person_id == person_id,
            ConsentRecord.status.in_([str(ConsentStatus.ACTIVE), str(ConsentStatus.REFUSED)]),
            ConsentRecord.period_start <= at,
            or_(ConsentRecord.period_end.is_(None), ConsentRecord.period_end > at),
        )
        .order_by(ConsentRecord.period_start)
    ).scalars()
    return [_consent_summary(record, names) for record in rows]


# ---------------------------------------------------------------------------------------
# Subject access: everything the hub holds and has disclosed about one person.


@dataclass(frozen=True)
class HeldRecord:
    agency: str
    kind: str
    identifiers: list[str]
    linked: str


@dataclass(frozen=True)
class SubjectAccessReport:
    person_id: str
    identity: Identity
    records: list[HeldRecord]
    involvements: list[tuple[str, str, date, date | None]]
    consents: list[ConsentSummary]
    disclosures: list[LogRow]
    other_entries: list[LogRow]
    family: list[FamilyMember] = field(default_factory=list)


def subject_access(session: Session, hub: Hub, person_id: str) -> SubjectAccessReport:
    records = []
    for record in session.execute(
        select(AgencyRecord).where(AgencyRecord.person_id == person_id)
    ).scalars():
        systems = [
            ident.system
            for ident in session.execute(
                select(RecordIdentifier).where(RecordIdentifier.record_id == record.id)
            ).scalars()
        ]
        records.append(HeldRecord(record.agency.name, record.kind, systems, record.link_method))
    involvements = [
        (i.agency.name, i.service_name, i.start_date, i.end_date)
        for i in session.execute(
            select(Involvement).where(Involvement.person_id == person_id)
        ).scalars()
    ]
    names = _agency_names(session)
    consents = [
        _consent_summary(c, names)
        for c in session.execute(
            select(ConsentRecord).where(ConsentRecord.person_id == person_id)
        ).scalars()
    ]
    entries = session.execute(
        select(LogEntry, _review_verdict(session))
        .where(LogEntry.subject == person_id)
        .order_by(LogEntry.seq)
    ).all()
    rows = [_row(entry, review) for entry, review in entries]
    return SubjectAccessReport(
        person_id=person_id,
        identity=identity(session, hub, person_id),
        records=records,
        involvements=involvements,
        consents=consents,
        disclosures=[r for r in rows if r.event == LogEvent.DISCLOSURE_DECIDED],
        other_entries=[r for r in rows if r.event != LogEvent.DISCLOSURE_DECIDED],
        family=family(session, hub, person_id),
    )


# ---------------------------------------------------------------------------------------
# The match review queue: two records the linker was unsure about, side by side.


@dataclass(frozen=True)
class MatchField:
    name: str
    left: str | None
    right: str | None

    @property
    def agreement(self) -> str:
        if not self.left or not self.right:
            return "missing"
        if self.left.strip().casefold() == self.right.strip().casefold():
            return "agrees"
        return "differs"


@dataclass(frozen=True)
class MatchPair:
    id: str
    score: float
    left_source: str
    right_source: str
    fields: list[MatchField]


class MatchQueue(Protocol):
    """Where the console gets candidate pairs from, and sends a reviewer's verdict to."""

    def pending(self, session: Session, hub: Hub) -> list[MatchPair]: ...

    def resolve(
        self, session: Session, hub: Hub, pair_id: str, *, accept: bool, reviewer: str
    ) -> bool: ...


class NoMatchQueue:
    """No linker that queues uncertain pairs is installed yet, so nothing is waiting."""

    installed = False

    def pending(self, session: Session, hub: Hub) -> list[MatchPair]:
        return []

    def resolve(
        self, session: Session, hub: Hub, pair_id: str, *, accept: bool, reviewer: str
    ) -> bool:
        return False
