"""Group commit: concurrent requests, one chain, nothing answered before it is committed."""

from __future__ import annotations

import threading

import psycopg
import pytest
from sqlalchemy import select

from hub.disclosure import log
from hub.disclosure.models import LogEntry
from hub.disclosure.writer import LogWriter
from hub.runtime import Hub
from hub.vocab import LogEvent


def _pending(writer: int, i: int) -> log.Pending:
    return log.Pending(LogEvent.DISCLOSURE_DECIDED, {"writer": writer, "i": i}, agency="T")


def test_eight_writers_in_two_workers_form_one_gapless_chain(hub: Hub) -> None:
    other_worker = Hub.start(hub.settings, keyring=hub.keyring)
    writers = [hub.log, other_worker.log]
    errors: list[BaseException] = []
    receipts: list[log.Receipt] = []
    seen = threading.Lock()

    def run(n: int) -> None:
        try:
            for i in range(40):
                receipt = writers[n % 2].record(_pending(n, i))
                with hub.sessions() as session:  # committed before the answer came back
                    stored = session.get(LogEntry, receipt.index)
                    assert stored is not None and stored.entry_id == receipt.entry_id
                with seen:
                    receipts.append(receipt)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other_worker.close()

    assert not errors, errors
    assert sorted(r.index for r in receipts) == list(range(320))
    with hub.sessions() as session:
        seqs = list(session.execute(select(LogEntry.seq).order_by(LogEntry.seq)).scalars())
        assert seqs == list(range(320))
        assert log.verify(session).ok
    assert hub.log.batches + writers[1].batches <= 320


def test_a_failed_batch_answers_every_waiter_with_the_error(hub: Hub) -> None:
    class Broken(Exception):
        pass

    def broken_sessions() -> object:
        raise Broken()

    writer = LogWriter(broken_sessions)  # type: ignore[arg-type]
    failures: list[BaseException] = []

    def run() -> None:
        try:
            writer.record(_pending(0, 0))
        except Broken as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(failures) == 5


def test_the_writer_signs_a_head_every_n_entries(hub: Hub) -> None:
    writer = LogWriter(hub.sessions, hub.log_signer, checkpoint_every=10, checkpoint_seconds=3600)
    for i in range(25):
        writer.record(_pending(0, i))
    with hub.sessions() as session:
        result = log.verify(session, vkey=hub.log_signer.vkey)
    assert result.ok and result.checkpoints == 2


def test_an_append_made_outside_the_writer_is_built_on_not_overwritten(hub: Hub) -> None:
    """The writer remembers where it left the head; another appender moving it meanwhile
    (a consent change in its own transaction) must send the writer back to the locked head."""
    first = hub.log.record(_pending(0, 0))
    with hub.sessions() as session:
        log.append(session, event=LogEvent.CONSENT_RECORDED, body={"outside": True})
        session.commit()
    second = hub.log.record(_pending(0, 1))
    third = hub.log.record(_pending(0, 2))

    assert second.index == first.index + 2 and third.index == second.index + 1
    with hub.sessions() as session:
        seqs = list(session.execute(select(LogEntry.seq).order_by(LogEntry.seq)).scalars())
        assert seqs == list(range(third.index + 1))
        assert log.verify(session).ok


def test_a_body_that_cannot_be_encoded_is_refused_alone(hub: Hub) -> None:
    with pytest.raises(ValueError):
        hub.log.record(log.Pending(LogEvent.DISCLOSURE_DECIDED, {"score": float("nan")}))
    receipt = hub.log.record(_pending(0, 0))
    with hub.sessions() as session:
        assert receipt.index == 0 and log.verify(session).ok


def test_a_batch_the_database_refuses_fails_alone_and_the_next_is_built_again(hub: Hub) -> None:
    """On PostgreSQL the next batch is sent before the one ahead of it has committed, built on
    the head that one will leave. When the database refuses the one ahead, the next finds the
    head elsewhere and is built again on it: its requests are answered, the chain stays whole."""
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("needs HUB_TEST_DATABASE_URL (PostgreSQL)")
    hub.log.record(_pending(0, 0))  # the writer now knows the head and pipelines
    refused: list[BaseException] = []
    receipts: list[log.Receipt] = []
    seen = threading.Lock()

    def run(n: int) -> None:
        for i in range(30):
            if n == 0 and i % 10 == 0:  # longer than the subject column: refused
                too_long = log.Pending(LogEvent.DISCLOSURE_DECIDED, {"i": i}, subject="x" * 40)
                with pytest.raises(psycopg.errors.DataError) as caught:
                    hub.log.record(too_long)
                refused.append(caught.value)
                continue
            receipt = hub.log.record(_pending(n, i))
            with seen:
                receipts.append(receipt)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(refused) == 3 and len(receipts) == 6 * 30 - 3
    assert sorted(r.index for r in receipts) == list(range(1, len(receipts) + 1))
    with hub.sessions() as session:
        assert log.verify(session).ok
