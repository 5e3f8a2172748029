"""Group commit for the disclosure log: many requests' entries, one transaction, one fsync.

Leader/follower, in process. A request hands its entry to the writer and waits. If no batch
is being written, it becomes the leader: it takes every entry queued so far, appends them
under one turn of the head lock, commits once, and only then wakes each waiter with its
receipt (or the error). Entries that arrived while it was committing form the next batch,
led by the first of them. No request is ever answered before its entry is committed.
Across worker processes the head row serialises the batches, so there is still one gapless
chain: on PostgreSQL the writer builds each batch on the head it left and moves the head
only if no one else has (one statement, one round trip), falling back to SELECT ... FOR
UPDATE when someone has; on SQLite BEGIN IMMEDIATE takes the turn.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hub.disclosure import log, tree
from hub.logging import log as app_log

GATHER_SECONDS = 0.001


def _closed_gate() -> threading.Lock:
    gate = threading.Lock()
    gate.acquire()
    return gate


@dataclass
class _Waiter:
    """A request waiting for its entry to be committed.

    It waits on a lock held for it and released once, rather than on an Event: waking a
    thread from an Event hands it the Event's lock as well, a second switch per request,
    and a batch wakes every request in it at once.
    """

    pending: log.Pending
    gate: threading.Lock = field(default_factory=_closed_gate)
    lead: bool = False
    done: bool = False
    receipt: log.Receipt | None = None
    error: BaseException | None = None


class LogWriter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        signer: tree.LogSigner | None = None,
        *,
        max_batch: int = 512,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float = 60.0,
        engine: Engine | None = None,
    ) -> None:
        self._sessions = sessions
        self._engine = engine
        self._dialect = engine.dialect.name if engine is not None else None
        self._raw: Any = None
        self._head: log.Head | None = None
        self._signer = signer
        self._max_batch = max_batch
        self._every = checkpoint_every
        self._seconds = checkpoint_seconds
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._expect = 1
        self._queue: list[_Waiter] = []
        self._busy = False
        self._signed_size: int | None = None
        self._signed_at = 0.0
        self._signing = threading.Lock()
        self.batches = 0
        """How many commits the writer has made; with the entry count, shows the batching."""

    def record(self, pending: log.Pending) -> log.Receipt:
        """Append one entry and return its receipt once the entry is committed."""
        waiter = _Waiter(log.checked(pending))
        with self._lock:
            self._queue.append(waiter)
            if len(self._queue) >= self._expect:  # the leader waits for no fewer
                self._arrived.notify()
            if not self._busy:
                self._busy = True
                waiter.lead = True
        if not waiter.lead:
            waiter.gate.acquire()
        if not waiter.done:  # promoted to lead the batch it heads
            self._write_batch()
        if waiter.error is not None:
            raise waiter.error
        assert waiter.receipt is not None
        return waiter.receipt

    def _write_batch(self) -> None:
        batch, built = self._gather()
        size = 0
        try:
            pending = [w.pending for w in batch]
            if self._dialect in {"postgresql", "sqlite"}:
                receipts = self._append_raw(pending, built)
            else:
                with self._sessions() as session:
                    receipts = log.append_many(session, pending)
                    session.commit()
            for waiter, receipt in zip(batch, receipts, strict=True):
                waiter.receipt = receipt
            size = receipts[-1].index + 1
            self.batches += 1
        except BaseException as exc:
            for waiter in batch:
                waiter.error = exc
        with self._lock:
            self._expect = min(len(batch) + len(self._queue), self._max_batch)
            if self._queue:
                self._queue[0].lead = True
                self._queue[0].gate.release()  # it leads, and waits no more
            else:
                self._busy = False
        for waiter in batch:
            waiter.done = True
            if not waiter.lead:
                waiter.gate.release()
        if size:
            self._maybe_sign(size)

    def _gather(self) -> tuple[list[_Waiter], log.Built | None]:
        """Take the next batch from the queue, building it on the way where the head is known.

        The requests just answered usually come straight back: they are given a moment (at
        most GATHER_SECONDS) to join, so batches stay as large as the concurrency. On
        PostgreSQL each entry is numbered, encoded and hashed on the head this writer left
        as soon as it arrives, so the batch is built by the time the last one is in.
        """
        head = self._head if self._dialect == "postgresql" else None
        builder = None
        if head is not None:
            frontier = log.parse_frontier(head.frontier)
            builder = log.BatchBuilder(head.size, head.chain_hash, frontier, self._expect)
        deadline = time.monotonic() + GATHER_SECONDS
        with self._lock:
            while True:
                if builder is not None and len(builder) < min(len(self._queue), self._max_batch):
                    arrived = self._queue[len(builder) : self._max_batch]
                    self._arrived.release()  # others may queue while these are encoded
                    try:
                        for waiter in arrived:
                            builder.add(waiter.pending)
                    except Exception:  # built again, and answered with the error, in the batch
                        builder = None
                    finally:
                        self._arrived.acquire()
                    continue
                remaining = deadline - time.monotonic()
                if len(self._queue) >= self._expect or remaining <= 0:
                    break
                self._arrived.wait(remaining)
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
        return batch, builder.finish() if builder is not None else None

    def _append_raw(
        self, pending: list[log.Pending], built: log.Built | None = None
    ) -> list[log.Receipt]:
        """A connection kept by the writer, driven without the ORM (see log.append_and_commit_*)."""
        assert self._engine is not None
        if self._raw is None:
            self._raw = self._engine.raw_connection()
            if self._dialect == "postgresql":
                self._raw.driver_connection.autocommit = True
        try:
            if self._dialect == "postgresql":
                receipts, self._head = log.append_and_commit_pg(
                    self._raw.driver_connection, pending, self._head, built
                )
                return receipts
            return log.append_and_commit_sqlite(self._raw.driver_connection, pending)
        except BaseException as exc:
            self._head = None
            self._raw.invalidate()
            self._raw = None
            dbapi = self._engine.dialect.loaded_dbapi
            if isinstance(exc, dbapi.OperationalError | dbapi.InterfaceError):
                # The driver's own error, in the form the rest of the hub (and the API's
                # 503 handler) knows: the database went away or is locked.
                raise OperationalError("append to the disclosure log", None, exc) from exc
            raise

    def close(self) -> None:
        if self._raw is not None:
            if self._dialect == "postgresql":
                self._raw.driver_connection.autocommit = False
            self._raw.close()
            self._raw = None

    def _maybe_sign(self, size: int) -> None:
        """Sign a tree head every ``checkpoint_every`` entries or ``checkpoint_seconds``."""
        if self._signer is None:
            return
        if self._signed_size is None:
            with self._sessions() as session:
                latest = tree.latest_checkpoint(session)
            self._signed_size = latest.size if latest else 0
            self._signed_at = time.monotonic()
        due = size - self._signed_size >= self._every or (
            size > self._signed_size and time.monotonic() - self._signed_at >= self._seconds
        )
        if not due or not self._signing.acquire(blocking=False):
            return
        try:
            self.sign_now()
        except tree.LogInconsistent:
            app_log.error("log_checkpoint_refused")
        finally:
            self._signing.release()

    def sign_now(self) -> int:
        """Sign the current tree head now; returns its size."""
        if self._signer is None:
            raise RuntimeError("this writer has no signing key")
        with self._sessions() as session:
            signed = tree.sign_checkpoint(session, self._signer)
            session.commit()
        self._signed_size = signed.size
        self._signed_at = time.monotonic()
        return signed.size
