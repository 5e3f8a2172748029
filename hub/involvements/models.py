"""Involvements: an agency's service working with a person, over a period."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.agencies.models import Agency, Practitioner
from hub.db.base import Base, IdColumn, UTCDateTime, new_id, utcnow


class Involvement(Base):
    __tablename__ = "involvement"
    __table_args__ = (UniqueConstraint("agency_id", "local_id"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    local_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    service: Mapped[str] = mapped_column(String(64))
    service_name: Mapped[str] = mapped_column(String(200))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"), default=None)
    tier: Mapped[str] = mapped_column(String(16))
    level_of_need: Mapped[int] = mapped_column(SmallInteger)
    lead_professional: Mapped[bool] = mapped_column(Boolean, default=False)
    sensitivity: Mapped[str | None] = mapped_column(String(16), default=None)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    agency: Mapped[Agency] = relationship(lazy="joined")
    practitioner: Mapped[Practitioner | None] = relationship(lazy="joined")

    def is_open_on(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or self.end_date >= day)
