"""People in the master index and the agency records linked to them.

Every personal field is a ciphertext (``*_enc``); identifiers are also kept as a keyed
blind index so that exact look-ups need no decryption.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.agencies.models import Agency
from hub.db.base import Base, IdColumn, UTCDateTime, new_id, utcnow


class Person(Base):
    """One real child or adult; the id is pseudonymous and is what the log records."""

    __tablename__ = "person"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    merged_into_id: Mapped[str | None] = mapped_column(ForeignKey("person.id"), default=None)


class AgencyRecord(Base):
    """What one agency holds about one person, as it sent it, and how it was linked."""

    __tablename__ = "agency_record"
    __table_args__ = (UniqueConstraint("agency_id", "local_id"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    local_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    given_name_enc: Mapped[str | None] = mapped_column(Text, default=None)
    family_name_enc: Mapped[str | None] = mapped_column(Text, default=None)
    birth_date_enc: Mapped[str | None] = mapped_column(Text, default=None)
    sex_enc: Mapped[str | None] = mapped_column(Text, default=None)
    address_enc: Mapped[str | None] = mapped_column(Text, default=None)
    postcode_enc: Mapped[str | None] = mapped_column(Text, default=None)
    link_method: Mapped[str] = mapped_column(String(16))
    link_confidence: Mapped[float] = mapped_column(Float, default=1.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    agency: Mapped[Agency] = relationship(lazy="joined")
    identifiers: Mapped[list[RecordIdentifier]] = relationship(
        back_populates="record", cascade="all, delete-orphan", lazy="selectin"
    )


class RecordIdentifier(Base):
    __tablename__ = "record_identifier"
    __table_args__ = (UniqueConstraint("record_id", "system"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("agency_record.id", ondelete="CASCADE"))
    system: Mapped[str] = mapped_column(String(100))
    value_enc: Mapped[str] = mapped_column(Text)
    blind_index: Mapped[str] = mapped_column(String(64), index=True)

    record: Mapped[AgencyRecord] = relationship(back_populates="identifiers")


class Relationship(Base):
    """A family tie as an agency reported it ("Think Family")."""

    __tablename__ = "relationship"
    __table_args__ = (UniqueConstraint("person_id", "related_person_id", "kind", "agency_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    related_person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    kind: Mapped[str] = mapped_column(String(48))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    start_date: Mapped[date | None] = mapped_column(Date, default=None)
    end_date: Mapped[date | None] = mapped_column(Date, default=None)
