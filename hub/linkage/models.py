"""Why each record sits with its person, the pairs people must decide, and the history of both.

Nothing here holds a name or a date: evidence is the field-by-field agreement level and its
weight, and blocking keys are keyed hashes, like the identifier blind index.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, IdColumn, UTCDateTime, new_id, utcnow


class LinkEvidence(Base):
    """One record's membership of one person, open until a split or merge ends it."""

    __tablename__ = "link_evidence"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    record_id: Mapped[str] = mapped_column(ForeignKey("agency_record.id"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    matched_record_id: Mapped[str | None] = mapped_column(IdColumn, default=None)
    method: Mapped[str] = mapped_column(String(16))
    weight: Mapped[float | None] = mapped_column(Float, default=None)
    fields_json: Mapped[str] = mapped_column(Text, default="[]")
    model_version: Mapped[str | None] = mapped_column(String(80), default=None)
    decided_by: Mapped[str | None] = mapped_column(String(120), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_reason: Mapped[str | None] = mapped_column(String(16), default=None)


class LinkReview(Base):
    """A doubtful pair: linked only if a person accepts it."""

    __tablename__ = "link_review"
    __table_args__ = (UniqueConstraint("record_id", "candidate_record_id"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    record_id: Mapped[str] = mapped_column(ForeignKey("agency_record.id"), index=True)
    candidate_record_id: Mapped[str] = mapped_column(ForeignKey("agency_record.id"))
    weight: Mapped[float] = mapped_column(Float)
    fields_json: Mapped[str] = mapped_column(Text)
    model_version: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(12), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(120), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)


class LinkBlockKey(Base):
    """Keyed hashes of a record's blocking keys: live linking finds candidates through them."""

    __tablename__ = "link_block_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(
        ForeignKey("agency_record.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64), index=True)
