"""Signed tree heads, made in the background rather than on a request's path.

A checkpoint is due every ``every`` entries or ``seconds``. Signing one reads a consistency
proof and writes a row, 10 to 50 ms measured under bench/e2e.py load; done by the request
that crossed the threshold, as it once was, that request waited for it and (while the
signing held the head row) so did every append in every worker. Here the request only wakes
this process's signing thread. Each worker process has one; before signing, it reads the
latest checkpoint, so a head another worker signed a moment ago is not signed again.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from hub.db.base import utcnow
from hub.disclosure import tree
from hub.logging import log as app_log

RETRY_SECONDS = 1.0
"""After a failed signing, how long appends leave the thread asleep (the database is away)."""


class CheckpointSigner:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        signer: tree.LogSigner,
        *,
        every: int,
        seconds: float,
    ) -> None:
        self._sessions = sessions
        self._signer = signer
        self._every = every
        self._seconds = seconds
        self._signed_size: int | None = None  # None: not yet read from the database
        self._signed_at = 0.0
        self._retry_at = 0.0
        self._signing = threading.Lock()
        self._wake = threading.Condition()
        self._asked = 0  # the largest log size an append reported since the thread last ran
        self._closing = False
        self._thread: threading.Thread | None = None

    def appended(self, size: int) -> None:
        """The log now holds ``size`` entries: wake the thread if a head is due. Never blocks
        on the database."""
        if self._signed_size is not None and not self._due(size):
            return
        if time.monotonic() < self._retry_at:
            return
        with self._wake:
            if self._closing:
                return
            self._asked = max(self._asked, size)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="log-checkpoint-signer", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def sign_now(self) -> int:
        """Sign the current tree head now and return its size (the CLI, the API, tests)."""
        with self._signing, self._sessions() as session:
            signed = tree.sign_checkpoint(session, self._signer)
            session.commit()
            self._signed_size = signed.size
            self._signed_at = time.monotonic()
            return signed.size

    def close(self) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10)

    def _due(self, size: int) -> bool:
        signed = self._signed_size or 0
        return size - signed >= self._every or (
            size > signed and time.monotonic() - self._signed_at >= self._seconds
        )

    def _run(self) -> None:
        while True:
            with self._wake:
                while not (self._closing or self._asked):
                    self._wake.wait()
                if not self._asked:  # closing, and nothing left to sign
                    return
                size, self._asked = self._asked, 0  # a head due as the writer closes is signed
            try:
                self._sign_if_due(size)
            except tree.LogInconsistent:
                app_log.error("log_checkpoint_refused")
                self._retry_at = time.monotonic() + RETRY_SECONDS
            except SQLAlchemyError as exc:
                app_log.warning("log_checkpoint_failed", error=type(exc).__name__)
                self._retry_at = time.monotonic() + RETRY_SECONDS

    def _sign_if_due(self, size: int) -> None:
        with self._sessions() as session:
            latest = tree.latest_checkpoint(session)
        if latest is None:
            if self._signed_size is None:
                self._signed_size, self._signed_at = 0, time.monotonic()
        elif self._signed_size is None or latest.size > self._signed_size:
            # Signed by another worker, or before this process started: count from there.
            age = (utcnow() - latest.signed_at).total_seconds()
            self._signed_size, self._signed_at = latest.size, time.monotonic() - max(0.0, age)
        if self._due(size):
            self.sign_now()
