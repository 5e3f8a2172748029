"""The disclosure log's tables.

``disclosure_log`` is append-only (database triggers refuse UPDATE and DELETE) and holds no
foreign keys: it names people by pseudonymous id only, so erasing or merging live data never
touches it. ``disclosure_log_head`` is the one row appenders lock to take their turn; it also
keeps the Merkle tree's right-edge frontier so each append updates the root in O(log n).
``disclosure_log_node`` keeps the roots of complete subtrees of 256 leaves and more, so that
proofs read a few hundred leaf hashes at most, never the whole log. ``disclosure_log_checkpoint``
keeps the signed tree heads, append-only as well.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, SmallInteger, String, Text
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
    frontier: Mapped[str] = mapped_column(Text, default="")
    """The CompactRange hashes, hex, joined by commas, largest subtree first."""


class LogNode(Base):
    """Root of the complete subtree of 2**level leaves starting at leaf index * 2**level."""

    __tablename__ = "disclosure_log_node"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


class LogCheckpoint(Base):
    """A signed tree head: a C2SP checkpoint note over (origin, size, root)."""

    __tablename__ = "disclosure_log_checkpoint"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    note: Mapped[str] = mapped_column(Text)


class LogFacet(Base):
    """What IG officers search by, copied out of each entry when it is appended.

    Derived data, not evidence: it can be rebuilt from the entries, and the entries (not this
    table) are what the chain, the Merkle tree and the signed checkpoints protect.
    """

    __tablename__ = "disclosure_log_facet"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    purpose: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    legal_basis: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    practitioner: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    needs_review: Mapped[bool] = mapped_column(default=False, index=True)
    review_of: Mapped[int | None] = mapped_column(BigInteger, index=True, default=None)
    review_state: Mapped[str | None] = mapped_column(String(16), default=None)
