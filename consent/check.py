"""Which recorded consents cover a disclosure: the consent step of every decision.

The most recently recorded consent or refusal that covers the request speaks for the
family: a refusal recorded after a consent stops it, and a consent recorded after a refusal
replaces it. Withdrawn and entered-in-error records never permit; expired ones are outside
their period and never permit either.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.models import ConsentRecord
from hub.vocab import ConsentStatus


@dataclass(frozen=True)
class ConsentView:
    id: str
    status: str
    purposes: frozenset[str]
    recipient_agencies: frozenset[str]
    recipient_kinds: frozenset[str]
    categories: frozenset[str]
    excluded_categories: frozenset[str]
    period_start: datetime
    period_end: datetime | None
    recorded_at: datetime

    def in_force(self, at: datetime) -> bool:
        return self.period_start <= at and (self.period_end is None or at < self.period_end)

    def covers(self, *, agency_code: str, agency_kind: str, purpose: str, category: str) -> bool:
        return (
            (not self.purposes or purpose in self.purposes)
            and (agency_code in self.recipient_agencies or agency_kind in self.recipient_kinds)
            and (not self.categories or category in self.categories)
            and category not in self.excluded_categories
        )


@dataclass(frozen=True)
class ConsentFinding:
    permitting: tuple[ConsentView, ...] = ()
    refusal: ConsentView | None = None
    considered: tuple[str, ...] = field(default=())

    @property
    def permits(self) -> bool:
        return bool(self.permitting)


def view_of(record: ConsentRecord) -> ConsentView:
    def as_set(text: str) -> frozenset[str]:
        return frozenset(json.loads(text))

    return ConsentView(
        id=record.id,
        status=record.status,
        purposes=as_set(record.purposes),
        recipient_agencies=as_set(record.recipient_agencies),
        recipient_kinds=as_set(record.recipient_kinds),
        categories=as_set(record.categories),
        excluded_categories=as_set(record.excluded_categories),
        period_start=record.period_start,
        period_end=record.period_end,
        recorded_at=record.created_at,
    )


def consents_for(session: Session, person_id: str) -> list[ConsentView]:
    rows = session.execute(select(ConsentRecord).where(ConsentRecord.person_id == person_id))
    return [view_of(record) for record in rows.scalars()]


def find_covering(
    consents: Iterable[ConsentView],
    *,
    agency_code: str,
    agency_kind: str,
    purpose: str,
    category: str,
    at: datetime,
) -> ConsentFinding:
    """Return the consents that permit this disclosure now, or the refusal that stops it."""
    relevant: Sequence[ConsentView] = sorted(
        (
            c
            for c in consents
            if c.status in (ConsentStatus.ACTIVE, ConsentStatus.REFUSED)
            and c.in_force(at)
            and c.covers(
                agency_code=agency_code, agency_kind=agency_kind, purpose=purpose, category=category
            )
        ),
        key=lambda c: (c.period_start, c.recorded_at),
    )
    considered = tuple(c.id for c in relevant)
    if not relevant:
        return ConsentFinding()
    latest = relevant[-1]
    if latest.status == ConsentStatus.REFUSED:
        return ConsentFinding(refusal=latest, considered=considered)
    return ConsentFinding(
        permitting=tuple(c for c in relevant if c.status == ConsentStatus.ACTIVE),
        considered=considered,
    )
