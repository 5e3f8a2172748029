"""The import ledger: what each agency's files last said about each of its ids.

One row per (agency, entity, local id) with a digest of the write last applied. A row whose
digest is unchanged is skipped, which makes re-importing a file a no-op and lets a killed
import resume: the ledger is written in the same transaction as the write it describes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, UTCDateTime, utcnow


class ImportLedger(Base):
    __tablename__ = "import_ledger"

    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    entity: Mapped[str] = mapped_column(String(16), primary_key=True)
    local_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    hub_ref: Mapped[str | None] = mapped_column(String(36), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
