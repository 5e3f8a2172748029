"""Turning events into outbox rows, inside the transaction of the change that caused them.

Who is owed a notification is worked out here (subscribers whose agency works with the child);
whether they may have it is decided later, at sending time, by the same decision function as
every other disclosure, so a consent withdrawn in between is respected.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db.base import utcnow
from hub.involvements.models import Involvement
from hub.notify.models import OutboxMessage, Subscription
from hub.notify.topics import CONSENT_CHANGED, NEW_AGENCY_INVOLVED

if TYPE_CHECKING:
    from consent.models import ConsentRecord


def _agencies_working_with(
    session: Session, person_id: str, ignoring: Collection[str] = ()
) -> set[int]:
    today = utcnow().date()
    rows = session.execute(
        select(Involvement.agency_id).where(
            Involvement.person_id == person_id,
            Involvement.start_date <= today,
            (Involvement.end_date.is_(None)) | (Involvement.end_date >= today),
            Involvement.id.not_in(ignoring),
        )
    )
    return {row[0] for row in rows}


def anyone_subscribed(session: Session, topic: str) -> bool:
    """Whether any subscription could be owed this topic: batches skip the work when none is."""
    found = session.execute(
        select(Subscription.id)
        .where(Subscription.topic == topic, Subscription.status == "active")
        .limit(1)
    ).first()
    return found is not None


def _enqueue(
    session: Session,
    *,
    topic: str,
    agencies: set[int],
    person_id: str,
    focus_type: str,
    focus_id: str,
) -> None:
    if not agencies:
        return
    subscriptions = session.execute(
        select(Subscription)
        .where(
            Subscription.topic == topic,
            Subscription.status == "active",
            Subscription.agency_id.in_(agencies),
        )
        .with_for_update()
    ).scalars()
    now = utcnow()
    for subscription in subscriptions:
        subscription.events_since_start += 1
        session.add(
            OutboxMessage(
                subscription_id=subscription.id,
                topic=topic,
                person_id=person_id,
                focus_type=focus_type,
                focus_id=focus_id,
                event_number=subscription.events_since_start,
                next_attempt_at=now,
            )
        )
    session.flush()


def involvements_started(session: Session, involvement_ids: Sequence[str]) -> None:
    """A batch of new involvements, in order: each tells others as if it had come alone."""
    if not involvement_ids or not anyone_subscribed(session, NEW_AGENCY_INVOLVED):
        return
    later = set(involvement_ids)
    for involvement_id in involvement_ids:
        later.discard(involvement_id)
        involvement = session.get(Involvement, involvement_id)
        assert involvement is not None
        involvement_started(session, involvement, ignoring=later)


def involvement_started(
    session: Session, involvement: Involvement, ignoring: Collection[str] = ()
) -> None:
    """A new involvement: tell the other agencies working with the child, if it is a new agency.

    ``ignoring`` names involvements written in the same batch after this one.
    """
    if not involvement.is_open_on(utcnow().date()):
        return
    agencies = _agencies_working_with(session, involvement.person_id, ignoring)
    already = session.execute(
        select(Involvement.id).where(
            Involvement.person_id == involvement.person_id,
            Involvement.agency_id == involvement.agency_id,
            Involvement.id != involvement.id,
            Involvement.id.not_in(ignoring),
        )
    ).first()
    if already is not None:
        return
    agencies.discard(involvement.agency_id)
    _enqueue(
        session,
        topic=NEW_AGENCY_INVOLVED,
        agencies=agencies,
        person_id=involvement.person_id,
        focus_type="EpisodeOfCare",
        focus_id=involvement.id,
    )


def consent_changed(session: Session, consent: ConsentRecord) -> None:
    """A consent recorded or withdrawn: tell the other agencies working with the child."""
    agencies = _agencies_working_with(session, consent.person_id)
    agencies.discard(consent.recorded_by_agency_id)
    _enqueue(
        session,
        topic=CONSENT_CHANGED,
        agencies=agencies,
        person_id=consent.person_id,
        focus_type="Consent",
        focus_id=consent.id,
    )
