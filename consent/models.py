"""Recorded consents (and refusals), with the scope they cover and every version of them.

The lists (purposes, recipients, categories, nested provisions) are stored as JSON text: they
are read as a whole with the consent and never queried into. Each consent also keeps its FHIR
R4 Consent resource as exchanged, and every change (record, amend, withdraw) adds a version
that is never altered afterwards.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, IdColumn, UTCDateTime, new_id, utcnow


class ConsentRecord(Base):
    __tablename__ = "consent"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    subject_kind: Mapped[str] = mapped_column(String(8), default="child")
    subject_record: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(20))
    given_by: Mapped[str] = mapped_column(String(16))
    grantor_person_id: Mapped[str | None] = mapped_column(ForeignKey("person.id"), default=None)
    grantor_record: Mapped[str | None] = mapped_column(String(64), default=None)
    competence_assessed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    competence_assessed_on: Mapped[date | None] = mapped_column(Date, default=None)
    recorded_by_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    recorded_by_practitioner: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    form_reference: Mapped[str | None] = mapped_column(String(100), default=None)
    purposes: Mapped[str] = mapped_column(Text, default="[]")
    recipient_agencies: Mapped[str] = mapped_column(Text, default="[]")
    recipient_kinds: Mapped[str] = mapped_column(Text, default="[]")
    categories: Mapped[str] = mapped_column(Text, default="[]")
    excluded_categories: Mapped[str] = mapped_column(Text, default="[]")
    provisions: Mapped[str] = mapped_column(Text, default="[]")
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    fhir: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ConsentVersion(Base):
    """One version of a consent as it stood after a change; history is never rewritten."""

    __tablename__ = "consent_version"
    __table_args__ = (UniqueConstraint("consent_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consent.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20))
    practitioner: Mapped[str] = mapped_column(String(64))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    fhir: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
