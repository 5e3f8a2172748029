"""The disclosure log's tables.

``disclosure_log`` is append-only (database triggers refuse UPDATE and DELETE) and holds no
foreign keys: it names people by pseudonymous id only, so erasing or merging live data never
touches it. ``disclosure_log_head`` is the one row appenders lock to take their turn.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, IdColumn, UTCDateTime


class LogEntry(Base):
    __tablename__ = "disclosure_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_id: Mapped[str] = mapped_column(IdColumn, unique=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    event: Mapped[str] = mapped_column(String(48), index=True)
    subject: Mapped[str | None] = mapped_column(IdColumn, index=True, default=None)
    agency: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    outcome: Mapped[str | None] = mapped_column(String(8), index=True, default=None)
    body: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    chain_hash: Mapped[str] = mapped_column(String(64))


class LogHead(Base):
    __tablename__ = "disclosure_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    chain_hash: Mapped[str] = mapped_column(String(64))
