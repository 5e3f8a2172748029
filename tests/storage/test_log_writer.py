"""Group commit: concurrent requests, one chain, nothing answered before it is committed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from hub.disclosure import log
from hub.disclosure.models import LogCheckpoint, LogEntry, LogNode
from hub.disclosure.shared_head import SharedHead
from hub.disclosure.waiting import Waiter, wake
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


def _checkpoint_sizes(hub: Hub, at_least: int) -> list[int]:
    """The signed sizes, once there are ``at_least`` of them: signing runs in the background."""
    deadline = time.monotonic() + 20
    while True:
        with hub.sessions() as session:
            sizes = sorted(session.execute(select(LogCheckpoint.size)).scalars())
        if len(sizes) >= at_least or time.monotonic() > deadline:
            return sizes
        time.sleep(0.02)


def _signing_writer(hub: Hub, every: int) -> LogWriter:
    return LogWriter(
        hub.sessions,
        hub.log_signer,
        checkpoint_every=every,
        checkpoint_seconds=3600,
        engine=hub.engine,
        shared_head=hub.settings.data_dir / "log-head",
    )


def test_the_writer_signs_a_head_every_n_entries(hub: Hub) -> None:
    writer = _signing_writer(hub, 10)
    try:
        for i in range(10):
            writer.record(_pending(0, i))
        assert _checkpoint_sizes(hub, 1) == [10]
        for i in range(10, 25):
            writer.record(_pending(0, i))
        sizes = _checkpoint_sizes(hub, 2)
    finally:
        writer.close()
    assert len(sizes) == 2 and sizes[1] >= 20  # not one per entry, and not before it was due
    with hub.sessions() as session:
        result = log.verify(session, vkey=hub.log_signer.vkey)
    assert result.ok and result.checkpoints == 2


def test_a_head_due_as_the_writer_closes_is_still_signed(hub: Hub) -> None:
    """A short-lived process (an import, the CLI) that crosses the threshold and then closes
    leaves its checkpoint behind: closing waits for the signing it asked for."""
    writer = _signing_writer(hub, 10)
    for i in range(10):
        writer.record(_pending(0, i))
    writer.close()
    with hub.sessions() as session:
        assert list(session.execute(select(LogCheckpoint.size)).scalars()) == [10]


def test_a_worker_does_not_sign_again_a_head_another_worker_just_signed(hub: Hub) -> None:
    other_worker = Hub.start(hub.settings, keyring=hub.keyring)
    first, second = _signing_writer(hub, 10), _signing_writer(other_worker, 10)
    try:
        for i in range(9):
            (first if i % 2 else second).record(_pending(i % 2, i))
        first.record(_pending(1, 9))  # the 10th entry: the first worker's signer signs
        assert _checkpoint_sizes(hub, 1) == [10]
        second.record(_pending(0, 10))  # due by its own count, but it reads the head signed
    finally:
        second.close()
        first.close()
        other_worker.close()
    assert _checkpoint_sizes(hub, 2) == [10]


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


def test_the_shared_head_reads_back_what_was_written(tmp_path: Path) -> None:
    shared = SharedHead.at(tmp_path / "log-head")
    assert shared is not None
    assert shared.read() is None  # a new file holds no head
    head = log.Head(6, "ab" * 32, ",".join(["cd" * 32, "ef" * 32]))  # 6 = 0b110: two
    with shared.turn():
        shared.write(head)
    assert shared.read() == head
    again = SharedHead(tmp_path / "log-head")  # another worker's view of the same file
    assert again.read() == head
    shared.close()
    again.close()


@pytest.mark.parametrize(
    "head",
    [
        log.Head(6, "ab" * 32, "cd" * 32),  # 6 = 0b110 needs two frontier hashes, not one
        log.Head(1, "ab" * 32, ""),  # and 1 needs one
        log.Head(1, "AB" * 32, "cd" * 32),  # hashes are written in lower case
        log.Head(1, "ab" * 31, "cd" * 32),  # and are 64 characters long
        log.Head(2, "ab" * 32, "cd" * 32 + ","),
        log.Head(1, "ab" * 32, "cd" * 32 + " x"),
    ],
)
def test_a_head_of_the_wrong_shape_reads_as_no_head(tmp_path: Path, head: log.Head) -> None:
    """Whole under its digest, but no head a batch could be built on: ignored, not used."""
    shared = SharedHead(tmp_path / "log-head")
    shared.write(head)
    assert shared.read() is None
    shared.write(log.Head(0, "ab" * 32, ""))  # an empty log has no frontier at all
    assert shared.read() == log.Head(0, "ab" * 32, "")
    shared.close()


def test_a_write_cut_short_reads_as_no_head(tmp_path: Path) -> None:
    """A worker killed while it wrote leaves a text that fails its digest: no head at all,
    never a head with half of another's frontier."""
    shared = SharedHead(tmp_path / "log-head")
    shared.write(log.Head(4, "ab" * 32, "cd" * 32))
    raw = bytearray((tmp_path / "log-head").read_bytes())
    raw[40] ^= 0x01  # one byte of the text changed under its digest
    (tmp_path / "log-head").write_bytes(bytes(raw))
    assert SharedHead(tmp_path / "log-head").read() is None
    shared.close()


def test_a_wrong_shared_head_costs_a_try_never_an_entry(hub: Hub) -> None:
    """The shared head is a hint: the append statement checks the whole head, frontier
    included, so a head that is wrong in any part only makes the batch be built again."""
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("needs HUB_TEST_DATABASE_URL (PostgreSQL)")
    first = hub.log.record(_pending(0, 0))
    shared = SharedHead(hub.settings.data_dir / "log-head")
    wrong: list[Callable[[log.Head], log.Head]] = [
        lambda real: log.Head(real.size + 5, "00" * 32, real.frontier),  # ahead of the log
        lambda real: log.Head(real.size, "00" * 32, real.frontier),  # a wrong chain
        lambda real: log.Head(  # right but for its frontier
            real.size, real.chain_hash, ",".join("00" * 32 for _ in real.frontier.split(","))
        ),
        lambda real: log.Head(real.size, real.chain_hash, ""),  # no tree could have it
    ]
    receipts = [first]
    for n, hint in enumerate(wrong):
        with hub.sessions() as session:
            real = log.Head(*session.execute(text(log._HEAD)).one())
        with shared.turn():
            shared.write(hint(real))
        receipts.append(hub.log.record(_pending(1, n)))
    shared.close()
    assert [r.index for r in receipts] == list(range(first.index, first.index + 5))
    with hub.sessions() as session:
        assert log.verify(session).ok
        # The Merkle tree too: head and stored nodes as a tree built from the leaves says.
        leaves = session.execute(select(LogEntry.leaf_hash).order_by(LogEntry.seq)).scalars()
        frontier, nodes = log.rebuild_tree([bytes.fromhex(h) for h in leaves])
        head = log.Head(*session.execute(text(log._HEAD)).one())
        assert head.frontier == ",".join(h.hex() for h in frontier)
        stored = session.execute(select(LogNode.level, LogNode.index, LogNode.hash)).all()
        assert sorted(stored) == sorted((lv, ix, h.hex()) for lv, ix, h in nodes)


def test_after_the_server_drops_every_connection_the_writer_connects_afresh(hub: Hub) -> None:
    """The pool hands out connections unpinged. After a server restart the writer's first
    pick is a dead one: it must take a fresh one, not fail the request with a driver error
    the API does not know (it answered 500 before)."""
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("needs HUB_TEST_DATABASE_URL (PostgreSQL)")
    hub.log.record(_pending(0, 0))  # the writer has its connection
    pooled = [hub.engine.connect() for _ in range(3)]
    for connection in pooled:
        connection.exec_driver_sql("SELECT 1")
    for connection in pooled:
        connection.close()  # back in the pool, soon dead
    with hub.engine.connect() as killer:
        killer.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    outcomes = []
    for i in range(3):
        try:
            hub.log.record(_pending(1, i))
            outcomes.append("appended")
        except OperationalError:  # answered 503: the connection in use went down with it
            outcomes.append("unavailable")
    assert outcomes[1:] == ["appended", "appended"], outcomes
    with hub.sessions() as session:
        assert log.verify(session).ok


def test_requests_on_an_event_loop_wait_for_their_commit_without_a_thread(hub: Hub) -> None:
    """The agency API awaits the commit: many requests on one loop, one chain, and each
    answered only once its entry is stored."""

    async def ask(i: int) -> log.Receipt:
        receipt = await hub.log.record_async(_pending(9, i))
        with hub.sessions() as session:  # committed before the answer came back
            stored = session.get(LogEntry, receipt.index)
            assert stored is not None and stored.entry_id == receipt.entry_id
        return receipt

    async def many() -> list[log.Receipt]:
        return list(await asyncio.gather(*(ask(i) for i in range(40))))

    receipts = asyncio.run(many())
    assert sorted(r.index for r in receipts) == list(range(40))
    with hub.sessions() as session:
        assert log.verify(session).ok


def test_an_entry_refused_on_the_event_loop_raises_there(hub: Hub) -> None:
    async def refused() -> None:
        await hub.log.record_async(log.Pending(LogEvent.DISCLOSURE_DECIDED, {"x": float("inf")}))

    with pytest.raises(ValueError):
        asyncio.run(refused())
    assert asyncio.run(_one(hub)).index == 0


async def _one(hub: Hub) -> log.Receipt:
    return await hub.log.record_async(_pending(9, 0))


def test_a_batch_wakes_each_thread_and_each_loop_once() -> None:
    """Threads are woken through their gates; a loop gets one call for all its requests."""
    calls: list[int] = []

    async def on_loop() -> None:
        loop = asyncio.get_running_loop()
        original = loop.call_soon_threadsafe

        def counted(callback: Any, *args: Any) -> Any:
            calls.append(len(args[0]))
            return original(callback, *args)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        waiters = [Waiter(_pending(0, i), future=loop.create_future()) for i in range(3)]
        threaded = Waiter(_pending(0, 3))
        done = threading.Thread(target=wake, args=([*waiters, threaded],))
        done.start()
        await asyncio.wait_for(asyncio.gather(*(w.future for w in waiters if w.future)), 5)
        done.join()
        assert threaded.gate.acquire(timeout=5)

    asyncio.run(on_loop())
    assert calls == [3]
