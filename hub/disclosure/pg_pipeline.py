"""The disclosure log's writer on PostgreSQL: one connection in libpq pipeline mode, one thread.

With one batch in flight at a time, the database sat idle while the requests just answered
woke, came back with their next entries and had them built; in a threaded process, waking a
batch of requests takes about as long as committing it. Here the next batch is sent while
the one before is still committing, on the same connection. The server runs a connection's
statements in order, so the next batch is built on the head the one before will leave, and
its statement moves the head only if that one did (log._PG_APPEND). When it did not (that
batch failed, or another worker appended in between) nothing is written: the batch is built
again on the head the statement hands back, and after FAST_TRIES such races it takes the
head lock first (log.append_locked_pg), so that a busy rival cannot keep it waiting for
ever. The writers of one host's workers build on the newest head any of them has sent
(hub/disclosure/shared_head.py), so that they rarely race at all. No request is answered
before its entry is committed.

A libpq connection must not be driven by two threads at once, so this thread alone drives
it; requests only queue their entries and wait.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg import errors, pq
from sqlalchemy import Engine

from hub.disclosure import log
from hub.disclosure.shared_head import SharedHead
from hub.disclosure.waiting import Waiter, wake

IN_FLIGHT = 2
"""Batches sent and not yet answered: one committing, one waiting behind it."""
FAST_TRIES = 2
STATEMENT = b"hub_log_append"
CONNECT_TRIES = 2
"""Connections tried when taking one for the writer: a dead one from the pool, a fresh one."""


@dataclass
class _Batch:
    waiters: list[Waiter]
    head: log.Head
    built: log.Built
    tries: int = 0
    result: Any = None


class PgPipeline:
    """Appends queued entries in batches, answering each request once its batch commits."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int,
        driver_error: Callable[[BaseException], BaseException],
        shared: SharedHead | None = None,
    ) -> None:
        self._engine = engine
        self._shared = shared
        self._max_batch = max_batch
        self._driver_error = driver_error
        self._lock = threading.Lock()
        self._queue: list[Waiter] = []
        self._sleeping = False
        self._enough = 1
        """Queued entries worth sending as a batch now: see _run."""
        self._answered = 0
        """Requests answered since the last batch was sent: they are likely to come back."""
        self._closing = False
        # The thread sleeps in select() on its connection and on this pair: a socket pair
        # rather than an eventfd or a pipe, so that select() takes it on every platform.
        self._wake, self._waker = socket.socketpair()
        self._wake.setblocking(False)
        self._waker.setblocking(False)
        self._thread: threading.Thread | None = None
        self._raw: Any = None
        self._head: log.Head | None = None
        """The head the last batch sent will leave, if it is known."""
        self._in_flight: deque[_Batch] = deque()
        self._again: list[_Batch] = []
        """Batches to build again, in order, once nothing is in flight."""
        self.batches = 0

    def submit(self, waiter: Waiter) -> None:
        """Queue a request's entry; the caller then waits on its gate."""
        with self._lock:
            if self._closing:
                raise RuntimeError("the disclosure log writer is closed")
            self._queue.append(waiter)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="disclosure-log-writer", daemon=True
                )
                self._thread.start()
            # Wake the thread only for a batch worth sending; it looks again before it sleeps.
            wake = self._sleeping and len(self._queue) >= self._enough
            if wake:
                self._sleeping = False
        if wake:
            self._wake_up()

    def _wake_up(self) -> None:
        with contextlib.suppress(BlockingIOError):  # full: a wake is already waiting
            self._waker.send(b"\0")

    def close(self) -> None:
        """Append what is queued, then stop the thread and close the connection."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            thread = self._thread
        self._wake_up()
        if thread is not None:
            thread.join(timeout=30)
        if thread is None or not thread.is_alive():  # else it still owns both
            self._disconnect()
            self._wake.close()
            self._waker.close()
            if self._shared is not None:
                self._shared.close()

    # The writer's thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            taken: list[Waiter] = []
            try:
                if self._again and not self._in_flight:
                    self._send_again()
                    continue
                with self._lock:
                    room = len(self._in_flight) < IN_FLIGHT and not self._again
                    # With the database idle, send what there is; with a batch committing,
                    # wait for the requests it last answered to come back (or for it to end),
                    # since a batch sent now would only wait behind it, and half as large.
                    self._enough = max(1, self._answered) if self._in_flight else 1
                    if room and len(self._queue) >= self._enough:
                        taken = self._queue[: self._max_batch]
                        del self._queue[: self._max_batch]
                        self._answered = 0
                    elif self._closing and not (self._queue or self._in_flight or self._again):
                        return
                    elif room:
                        self._sleeping = True
                if taken:
                    self._send_new(taken)
                else:
                    self._wait()
            except BaseException as exc:  # never leave a request waiting for ever
                self._fail(taken, exc)

    def _send_new(self, waiters: list[Waiter]) -> None:
        if not self._send_on_expected(self._connection(), waiters):
            self._locked(waiters)  # not known yet, or lost with a failed batch: read it locked

    def _send_again(self) -> None:
        """Build the batches the head moved under again, in order, on the head as it is.

        Each stays in ``_again`` until it is sent or answered, so a failure answers it.
        """
        pgconn = self._connection()
        while self._again:
            batch = self._again[0]
            if batch.tries >= FAST_TRIES or not self._send_on_expected(
                pgconn, batch.waiters, batch
            ):
                if self._in_flight:  # out of pipeline mode only once all is answered
                    return
                self._locked(batch.waiters)
            self._again.pop(0)

    def _send_on_expected(
        self, pgconn: Any, waiters: list[Waiter], batch: _Batch | None = None
    ) -> bool:
        """Build the entries (a new batch, or ``batch`` again) on the head expected, and send
        them; False when no head is known."""
        with self._turn():
            head = self._expected()
            if head is None:
                return False
            built = log.build_batch(
                head.size,
                head.chain_hash,
                log.parse_frontier(head.frontier),
                [w.pending for w in waiters],
            )
            if batch is None:
                batch = _Batch(waiters, head, built)
            else:
                batch.head, batch.built, batch.result = head, built, None
            self._send(pgconn, batch)
            return True

    def _send(self, pgconn: Any, batch: _Batch) -> None:
        parameters = log.append_parameters(batch.built, batch.head)
        pgconn.send_query_prepared(STATEMENT, log.numbered_parameters(parameters))
        pgconn.pipeline_sync()
        pgconn.flush()
        self._in_flight.append(batch)
        self._expect(log.Head(batch.built.size, batch.built.chain_hash, batch.built.frontier))

    def _turn(self) -> contextlib.AbstractContextManager[None]:
        """Hold the host's writers' turn (see hub/disclosure/shared_head.py), if shared."""
        return self._shared.turn() if self._shared is not None else contextlib.nullcontext()

    def _expected(self) -> log.Head | None:
        """The head the next batch is built on: the newest any writer here has sent."""
        if self._shared is not None:
            return self._shared.read() or self._head
        return self._head

    def _expect(self, head: log.Head) -> None:
        """Build the next batch on ``head``; in a turn when the head is shared."""
        self._head = head
        if self._shared is not None:
            self._shared.write(head)

    def _locked(self, waiters: list[Waiter]) -> None:
        """Append with the head locked first, out of pipeline mode (nothing is in flight)."""
        pgconn = self._connection()
        pgconn.exit_pipeline_mode()
        try:
            receipts, head = log.append_locked_pg(
                self._raw.driver_connection, [w.pending for w in waiters]
            )
            with self._turn():
                self._expect(head)
        except (errors.DataError, errors.IntegrityError) as refused:
            if len(waiters) == 1:
                _answer(waiters, error=refused)
                return
            receipts = None  # one entry the database will not take: each alone, below
        except BaseException:
            self._head = None
            raise
        finally:
            if pgconn.status == pq.ConnStatus.OK:
                pgconn.enter_pipeline_mode()
        if receipts is None:
            for waiter in waiters:
                self._locked([waiter])
            return
        self.batches += 1
        _answer(waiters, receipts)

    def _wait(self) -> None:
        """Sleep until a result arrives or a request queues an entry."""
        watch = [self._wake]
        if self._in_flight:
            watch.append(self._connection().socket)
        ready, _, _ = select.select(watch, [], [], 5.0)
        with self._lock:
            self._sleeping = False
        if self._wake in ready:
            with contextlib.suppress(BlockingIOError):  # another wake took it already
                self._wake.recv(4096)
        if self._in_flight:
            self._receive()

    def _receive(self) -> None:
        """Take every result that has arrived; each batch ends at its sync point."""
        pgconn = self._connection()
        pgconn.consume_input()
        ended = False
        while self._in_flight and not pgconn.is_busy():
            result = pgconn.get_result()
            batch = self._in_flight[0]
            if result is None:  # the end of the statement's results, or nothing more yet
                if batch.result is None or ended:
                    break
                ended = True
                continue
            ended = False
            if result.status == pq.ExecStatus.PIPELINE_SYNC:
                self._in_flight.popleft()
                self._settle(batch)
            elif batch.result is None:
                batch.result = result

    def _settle(self, batch: _Batch) -> None:
        result = batch.result
        if result is None or result.status != pq.ExecStatus.TUPLES_OK:
            if not self._in_flight:
                self._head = None  # unknown until read again; batches behind it will say
            error = _statement_error(result)
            if len(batch.waiters) > 1 and isinstance(
                error, errors.DataError | errors.IntegrityError
            ):
                # One entry the database will not take fails the statement for all: send
                # each again alone, so that only that one is refused.
                self._again.extend(_Batch([w], batch.head, batch.built) for w in batch.waiters)
                return
            _answer(batch.waiters, error=error)
            return
        appended, size, chained, frontier = (result.get_value(0, i) for i in range(4))
        if appended == b"t":
            self.batches += 1
            _answer(batch.waiters, batch.built.receipts)
            with self._lock:
                self._answered += len(batch.waiters)
            return
        # The head was not where this batch was built: answer nothing yet, build it again.
        batch.tries += 1
        self._again.append(batch)
        with self._turn():
            self._expect(log.Head(int(size), chained.decode(), frontier.decode()))

    # The connection ----------------------------------------------------------------------------

    def _connection(self) -> Any:
        """The writer's libpq connection in pipeline mode, with the append prepared on it.

        The pool does not ping a connection before handing it out (that would cost every
        request a round trip), so after the server restarted, the pool's connections are
        dead ones. Preparing the append finds that out: the pool is emptied and a fresh
        connection taken, and only if the server is still unreachable does the request get
        the error, as an OperationalError (answered 503).
        """
        for attempt in range(CONNECT_TRIES):
            if self._raw is not None:
                break
            raw = self._engine.raw_connection()
            try:
                driver: Any = raw.driver_connection
                driver.autocommit = True
                pgconn = driver.pgconn
                prepared = pgconn.prepare(STATEMENT, log.PG_APPEND_NUMBERED.encode())
                if prepared.status != pq.ExecStatus.COMMAND_OK:
                    if pgconn.status == pq.ConnStatus.OK:
                        raise _statement_error(prepared)
                    lost = errors.OperationalError(_statement_error(prepared).args[0])
                    raw.invalidate(lost)
                    self._engine.dispose()  # the rest of the pool went with the server
                    if attempt + 1 == CONNECT_TRIES:
                        raise lost
                    continue
                pgconn.enter_pipeline_mode()
            except BaseException:
                if raw.is_valid:
                    raw.invalidate()
                raise
            self._raw, self._head = raw, None
        return self._raw.driver_connection.pgconn

    def _disconnect(self) -> None:
        if self._raw is not None:
            self._raw.invalidate()  # its prepared statement and pipeline mode go with it
            self._raw = None
        self._head = None

    def _fail(self, taken: list[Waiter], exc: BaseException) -> None:
        """The connection failed, or this thread did: answer everything in hand with the
        error (a batch sent may or may not have committed; the caller may try again)."""
        error = self._driver_error(exc)
        if error is not exc:
            error.__cause__ = exc
        waiting = [w for batch in (*self._in_flight, *self._again) for w in batch.waiters]
        self._in_flight.clear()
        self._again.clear()
        self._disconnect()
        _answer([*taken, *waiting], error=error)


def _answer(
    waiters: list[Waiter],
    receipts: list[log.Receipt] | None = None,
    error: BaseException | None = None,
) -> None:
    answered = []
    for i, waiter in enumerate(waiters):
        if waiter.done:
            continue
        if receipts is not None:
            waiter.receipt = receipts[i]
        else:
            waiter.error = error
        waiter.done = True
        answered.append(waiter)
    wake(answered)


def _statement_error(result: Any) -> BaseException:
    """The server's error for a statement, as psycopg would have raised it."""
    if result is None:
        return errors.InternalError("the disclosure log append returned no result")
    sqlstate = result.error_field(pq.DiagnosticField.SQLSTATE)
    message = (result.error_message or b"").decode(errors="replace").strip()
    try:
        kind = errors.lookup(sqlstate.decode()) if sqlstate else errors.DatabaseError
    except KeyError:
        kind = errors.DatabaseError
    return kind(message or "the disclosure log append failed")
