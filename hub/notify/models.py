"""Subscriptions and the notification outbox.

The outbox row is written in the same transaction as the event that causes it, so an event
that happened is never without its notifications, whatever happens to the process after.
It holds no personal data: pseudonymous ids and what to look up when the time comes to send.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, IdColumn, UTCDateTime, new_id, utcnow


class Subscription(Base):
    """An agency system's standing request to be told about one topic."""

    __tablename__ = "fhir_subscription"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(100), index=True)
    endpoint: Mapped[str] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(String(500))
    practitioner: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(48))
    purpose: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    events_since_start: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(Base):
    """One notification owed to one subscription; decided and signed only when it is sent."""

    __tablename__ = "notification_outbox"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("fhir_subscription.id"), index=True)
    topic: Mapped[str] = mapped_column(String(100))
    person_id: Mapped[str] = mapped_column(IdColumn)
    focus_type: Mapped[str] = mapped_column(String(32))
    focus_id: Mapped[str] = mapped_column(IdColumn)
    event_number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_status: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
