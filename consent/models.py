"""Recorded consents (and refusals), with the scope they cover.

The lists (purposes, recipients, categories) are stored as JSON text: they are read as a
whole with the consent and never queried into.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, IdColumn, UTCDateTime, new_id, utcnow


class ConsentRecord(Base):
    __tablename__ = "consent"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    given_by: Mapped[str] = mapped_column(String(16))
    grantor_person_id: Mapped[str | None] = mapped_column(ForeignKey("person.id"), default=None)
    competence_assessed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    recorded_by_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    recorded_by_practitioner: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    form_reference: Mapped[str | None] = mapped_column(String(100), default=None)
    purposes: Mapped[str] = mapped_column(Text, default="[]")
    recipient_agencies: Mapped[str] = mapped_column(Text, default="[]")
    recipient_kinds: Mapped[str] = mapped_column(Text, default="[]")
    categories: Mapped[str] = mapped_column(Text, default="[]")
    excluded_categories: Mapped[str] = mapped_column(Text, default="[]")
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
