"""Searching the disclosure log for information governance, and deriving review state.

The log is append-only, so a review never edits the entry it reviews: it is a new entry that
names the reviewed one, and an entry's review state is that of the latest review naming it
("pending" when an override awaits its first review, "none" when no review is needed).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session, aliased

from hub.disclosure.models import LogEntry, LogFacet
from hub.vocab import LogEvent


class ReviewState:
    NONE = "none"
    PENDING = "pending"
    FLAGGED = "flagged"
    ACCEPTED = "accepted"
    CONCERN = "concern"


REVIEW_VERDICTS = (ReviewState.FLAGGED, ReviewState.ACCEPTED, ReviewState.CONCERN)
"""What a reviewer may record; "flagged" puts any entry into the review queue."""
QUEUED = (ReviewState.PENDING, ReviewState.FLAGGED)


@dataclass(frozen=True)
class Filters:
    subjects: Sequence[str] = ()
    practitioner: str | None = None
    agency: str | None = None
    purpose: str | None = None
    legal_basis: str | None = None
    outcome: str | None = None
    event: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    review_states: Sequence[str] = ()


@dataclass(frozen=True)
class Found:
    entry: dict[str, Any]
    review_state: str
    leaf_hash: str
    chain_hash: str


def _query() -> tuple[Select[Any], ColumnElement[str]]:
    latest = (
        select(LogFacet.review_of.label("target"), func.max(LogFacet.seq).label("review_seq"))
        .where(LogFacet.review_of.is_not(None))
        .group_by(LogFacet.review_of)
        .subquery()
    )
    review = aliased(LogFacet)
    state = case(
        (review.review_state.is_not(None), review.review_state),
        (LogFacet.needs_review, ReviewState.PENDING),
        else_=ReviewState.NONE,
    )
    query = (
        select(LogEntry, state.label("state"))
        .join(LogFacet, LogFacet.seq == LogEntry.seq)
        .outerjoin(latest, latest.c.target == LogEntry.seq)
        .outerjoin(review, review.seq == latest.c.review_seq)
    )
    return query, state


def search(session: Session, filters: Filters, *, after: int = -1, limit: int = 100) -> list[Found]:
    """Entries matching every filter given, oldest first, from after the ``after`` index."""
    query, state = _query()
    conditions: list[ColumnElement[bool]] = [LogEntry.seq > after]
    if filters.subjects:
        conditions.append(LogEntry.subject.in_(list(filters.subjects)))
    if filters.practitioner:
        conditions.append(LogFacet.practitioner == filters.practitioner)
    if filters.agency:
        conditions.append(LogEntry.agency == filters.agency)
    if filters.purpose:
        conditions.append(LogFacet.purpose == filters.purpose)
    if filters.legal_basis:
        conditions.append(LogFacet.legal_basis == filters.legal_basis)
    if filters.outcome:
        conditions.append(LogEntry.outcome == filters.outcome)
    if filters.event:
        conditions.append(LogEntry.event == filters.event)
    if filters.since:
        conditions.append(LogEntry.recorded_at >= filters.since)
    if filters.until:
        conditions.append(LogEntry.recorded_at < filters.until)
    if filters.review_states:
        conditions.append(state.in_(list(filters.review_states)))
    rows = session.execute(query.where(*conditions).order_by(LogEntry.seq).limit(limit)).all()
    return [
        Found(
            entry=json.loads(row.LogEntry.body),
            review_state=row.state,
            leaf_hash=row.LogEntry.leaf_hash,
            chain_hash=row.LogEntry.chain_hash,
        )
        for row in rows
    ]


def review_queue(session: Session, *, after: int = -1, limit: int = 100) -> list[Found]:
    """Overrides not yet reviewed, and entries a reviewer flagged."""
    return search(session, Filters(review_states=QUEUED), after=after, limit=limit)


def find_entry(session: Session, entry_id: str) -> LogEntry | None:
    return session.execute(
        select(LogEntry).where(LogEntry.entry_id == entry_id)
    ).scalar_one_or_none()


def review_body(
    *, seq: int, entry_id: str, state: str, comment: str, reviewer: dict[str, Any]
) -> dict[str, Any]:
    """The body of the log entry that records a review of the entry ``seq``/``entry_id``.

    The IG API and the console both write reviews through here, so either sees the other's.
    """
    return {
        "review": {
            "seq": seq,
            "entry_id": entry_id,
            "state": state,
            "comment": comment,
        },
        "reviewer": reviewer,
    }


REVIEWABLE = {str(e) for e in LogEvent} - {str(LogEvent.REVIEW_RECORDED)}
