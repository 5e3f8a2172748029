"""Group commit for the disclosure log: many requests' entries, one transaction, one fsync.

A request hands its entry to the writer and waits; it is answered only once the batch that
carries its entry has committed. On PostgreSQL the writer's own thread sends the batches,
two in flight on one connection (see pg_pipeline). Elsewhere it is leader/follower, in
process: if no batch is being written, the request becomes the leader, takes every entry
queued so far, appends them under one turn of the head lock (on SQLite BEGIN IMMEDIATE
takes the turn), commits once, and then wakes each waiter with its receipt (or the error).
Entries that arrived while it was committing form the next batch, led by the first of them.
Across worker processes the head row serialises the batches, so there is one gapless chain.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import anyio.to_thread
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hub.disclosure import log, tree
from hub.disclosure.pg_pipeline import PgPipeline
from hub.disclosure.shared_head import SharedHead
from hub.disclosure.signing import CheckpointSigner
from hub.disclosure.waiting import Waiter

GATHER_SECONDS = 0.001


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
        shared_head: Path | None = None,
    ) -> None:
        self._sessions = sessions
        self._engine = engine
        self._dialect = engine.dialect.name if engine is not None else None
        self._pipeline: PgPipeline | None = None
        if engine is not None and self._dialect == "postgresql":
            self._pipeline = PgPipeline(
                engine,
                max_batch=max_batch,
                driver_error=self._driver_error,
                shared=SharedHead.at(shared_head),
            )
        self._raw: Any = None
        self._signer = (
            CheckpointSigner(sessions, signer, every=checkpoint_every, seconds=checkpoint_seconds)
            if signer is not None
            else None
        )
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._expect = 1
        self._queue: list[Waiter] = []
        self._busy = False
        self._led = 0

    @property
    def batches(self) -> int:
        """How many commits the writer has made; with the entry count, shows the batching."""
        return self._led + (self._pipeline.batches if self._pipeline is not None else 0)

    def record(self, pending: log.Pending) -> log.Receipt:
        """Append one entry and return its receipt once the entry is committed."""
        waiter = Waiter(log.checked(pending))  # refused before it can fail a whole batch
        if self._pipeline is not None:
            self._pipeline.submit(waiter)
            waiter.gate.acquire()
        else:
            self._lead_or_follow(waiter)
        return self._answered(waiter)

    async def record_async(self, pending: log.Pending) -> log.Receipt:
        """record() for a request on the event loop: it waits for the commit holding no
        thread. Leader/follower (SQLite) writes on a waiting request's own thread, so there
        the request still takes one."""
        if self._pipeline is None:
            return await anyio.to_thread.run_sync(self.record, pending)
        committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = Waiter(log.checked(pending), future=committed)
        self._pipeline.submit(waiter)
        await committed
        return self._answered(waiter)

    def _answered(self, waiter: Waiter) -> log.Receipt:
        if waiter.error is not None:
            raise waiter.error
        assert waiter.receipt is not None
        if self._pipeline is not None and self._signer is not None:
            self._signer.appended(waiter.receipt.index + 1)
        return waiter.receipt

    def _lead_or_follow(self, waiter: Waiter) -> None:
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

    def _write_batch(self) -> None:
        with self._lock:
            # The requests just answered usually come straight back: give them a moment
            # (at most GATHER_SECONDS) to join, so batches stay as large as the concurrency.
            self._arrived.wait_for(lambda: len(self._queue) >= self._expect, GATHER_SECONDS)
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
        size = 0
        try:
            pending = [w.pending for w in batch]
            if self._dialect == "sqlite":
                receipts = self._append_sqlite(pending)
            else:
                with self._sessions() as session:
                    receipts = log.append_many(session, pending)
                    session.commit()
            for waiter, receipt in zip(batch, receipts, strict=True):
                waiter.receipt = receipt
            size = receipts[-1].index + 1
            self._led += 1
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
        if size and self._signer is not None:
            self._signer.appended(size)

    def _append_sqlite(self, pending: list[log.Pending]) -> list[log.Receipt]:
        """A connection kept by the writer, driven without the ORM (see log.append_and_commit_*)."""
        assert self._engine is not None
        if self._raw is None:
            self._raw = self._engine.raw_connection()
        try:
            return log.append_and_commit_sqlite(self._raw.driver_connection, pending)
        except BaseException as exc:
            self._raw.invalidate()
            self._raw = None
            error = self._driver_error(exc)
            if error is exc:
                raise
            raise error from exc

    def _driver_error(self, exc: BaseException) -> BaseException:
        """The driver's own error, in the form the rest of the hub (and the API's 503
        handler) knows: the database went away or is locked."""
        if self._engine is None:
            return exc
        dbapi = self._engine.dialect.loaded_dbapi
        if isinstance(exc, dbapi.OperationalError | dbapi.InterfaceError):
            return OperationalError("append to the disclosure log", None, exc)
        return exc

    def close(self) -> None:
        if self._signer is not None:
            self._signer.close()
        if self._pipeline is not None:
            self._pipeline.close()
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def sign_now(self) -> int:
        """Sign the current tree head now; returns its size."""
        if self._signer is None:
            raise RuntimeError("this writer has no signing key")
        return self._signer.sign_now()
