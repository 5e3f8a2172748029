"""The declarative base, shared column types and constraint naming."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Insert, MetaData, String, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware, on either database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def bulk_insert(model: type[Base]) -> Insert:
    """An INSERT for many rows at once, as ``session.execute(bulk_insert(Model), rows)``.

    It targets the table rather than the mapped class, so the rows (dicts with the same keys,
    nulls included) go straight to one ``executemany`` without the ORM's work per row.
    """
    return insert(Base.metadata.tables[model.__tablename__])


def in_chunks(values: Iterable[T], size: int = 5000) -> Iterator[list[T]]:
    """Values for an IN list a few thousand at a time: SQLite and PostgreSQL both cap the
    parameters one statement may carry, and a batch's candidate people can be many."""
    ordered = list(values)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def new_id() -> str:
    """A random, meaningless id: safe to show to other agencies and to put in the log."""
    return str(uuid.uuid4())


def time_ordered_ids(count: int) -> list[str]:
    """``count`` UUIDs of version 7 (RFC 9562): the time in milliseconds, the position in the
    batch (12 bits), then 62 random bits, all from one read of the system's random source.

    They are the disclosure log's entry ids. The log only grows, and its unique index on the
    entry id grew with it: with random ids (version 4) each append landed on a random leaf of
    that index, so after every checkpoint nearly each one wrote a whole page to the WAL, and
    the whole index competed for the buffer cache. Ids in time order are appended at the
    index's right edge, as the sequence numbers are. An id tells no more than the entry it
    names: the time it was recorded. Built as bytes rather than as uuid.UUID objects, which
    cost the log writer more than hashing the entries.
    """
    random = bytearray(os.urandom(16 * count))
    now = (time.time_ns() // 1_000_000).to_bytes(6, "big")
    for position, start in enumerate(range(0, len(random), 16)):
        random[start : start + 6] = now
        random[start + 6] = 0x70 | (position >> 8 & 0x0F)  # version 7
        random[start + 7] = position & 0xFF
        random[start + 8] = random[start + 8] & 0x3F | 0x80  # the RFC 9562 variant
    digits = random.hex()
    return [
        f"{digits[i : i + 8]}-{digits[i + 8 : i + 12]}-{digits[i + 12 : i + 16]}-"
        f"{digits[i + 16 : i + 20]}-{digits[i + 20 : i + 32]}"
        for i in range(0, len(digits), 32)
    ]


def utcnow() -> datetime:
    return datetime.now(UTC)


ID_LENGTH = 36
IdColumn = String(ID_LENGTH)
