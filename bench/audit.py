"""Benchmark the disclosure log: durable appends and offline verification, beside baselines.

    python bench/audit.py [--appends 20000] [--verify-only]

SQLite always (a temporary file); PostgreSQL when HUB_DATABASE_URL names a server (a fresh
database is created and dropped). For each: the hub's durable appends per second with 1 and
with 8 concurrent writers (threads sharing one LogWriter, so group commit batches them),
each beside the bare database's single-row INSERT + COMMIT rate with the same number of
clients, measured in the same run. The 8-writer PostgreSQL run appends --appends entries and
then verifies the whole log (one chain, no gaps). Then an export of that log is verified
offline, beside bare SHA-256 chaining over the same stored bytes (median of several runs).
--verify-only skips the append and floor figures: a SQLite hub takes --appends + --count
entries from 8 writers (checkpoints signed as usual) and only the export is verified.

Loopback only, bounded by the counts given. The machine is shared: expect noise.
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hub.crypto.keys import Keyring
from hub.db.migrate import upgrade
from hub.disclosure import log
from hub.disclosure.export import export_log, verify_export
from hub.runtime import Hub
from hub.settings import Settings
from hub.vocab import LogEvent

WRITERS = 8


def _decision(writer: int, i: int) -> log.Pending:
    """An entry shaped like a real decision (pseudonymous ids, codes and reasons only)."""
    return log.Pending(
        event=LogEvent.DISCLOSURE_DECIDED,
        subject=str(uuid.uuid4()),
        agency="COUNCIL",
        outcome="permit",
        body={
            "requester": {
                "agency": "COUNCIL",
                "client": "council-system",
                "practitioner": f"P-{writer}",
                "role": "lead-professional",
            },
            "purpose": "team-around-the-family",
            "asked": {
                "what": "involvements",
                "identifier_system": "https://fhir.nhs.uk/Id/nhs-number",
                "identifier_index": hashlib.sha256(f"{writer}-{i}".encode()).hexdigest(),
            },
            "decision": {
                "outcome": "permit",
                "reasons": ["consent-on-record"],
                "rule_ids": ["EH-002"],
                "policy_version": "bench",
                "legal_basis": "consent",
                "consent_ids": [str(uuid.uuid4())],
                "disclosed": [str(uuid.uuid4()) for _ in range(3)],
                "shielded": [],
                "withheld": [],
            },
        },
    )


def _concurrently(threads: int, per_thread: int, work: Callable[[int, int], None]) -> float:
    """Run work(thread, i) per_thread times in each of `threads` threads; return ops/s."""
    errors: list[BaseException] = []

    def run(t: int) -> None:
        try:
            for i in range(per_thread):
                work(t, i)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return threads * per_thread / elapsed


def _hub_appends(hub: Hub, threads: int, total: int) -> float:
    """Each writer's entries are made before the clock starts, as the floor's row is: the
    figure is the log's, not the benchmark's own generation of decisions."""
    per_thread = total // threads
    entries = [[_decision(t, i) for i in range(per_thread)] for t in range(threads)]
    return _concurrently(threads, per_thread, lambda t, i: hub.log.record(entries[t][i]))


# SQLite ------------------------------------------------------------------------------------


def _sqlite_floor(path: Path, threads: int, total: int) -> float:
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, body TEXT)")
    setup.close()
    body = log.canonical({"bench": "x" * 600})
    local = threading.local()

    def insert(_t: int, _i: int) -> None:
        if not hasattr(local, "conn"):
            local.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
            local.conn.execute("PRAGMA synchronous=FULL")
        local.conn.execute("BEGIN IMMEDIATE")
        local.conn.execute("INSERT INTO floor (body) VALUES (?)", (body,))
        local.conn.execute("COMMIT")

    return _concurrently(threads, total // threads, insert)


def bench_sqlite(workdir: Path, count: int) -> tuple[dict[str, float], Hub]:
    db = workdir / "hub.db"
    upgrade(f"sqlite:///{db}")
    hub = Hub.start(Settings(data_dir=workdir, database_url=f"sqlite:///{db}"),
                    keyring=Keyring.generate())  # fmt: skip
    floor_path = workdir / "floor.db"
    figures = {
        "sqlite_floor_per_s_1": _sqlite_floor(floor_path, 1, count),
        "sqlite_appends_per_s_1": _hub_appends(hub, 1, count),
        "sqlite_floor_per_s": _sqlite_floor(floor_path, WRITERS, count),
        "sqlite_appends_per_s": _hub_appends(hub, WRITERS, count),
    }
    return figures, hub


# PostgreSQL --------------------------------------------------------------------------------


def _pg_floor(url: str, threads: int, total: int) -> float:
    import psycopg

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS floor (id BIGSERIAL PRIMARY KEY, body TEXT)")
    body = log.canonical({"bench": "x" * 600}).decode()
    local = threading.local()
    opened: list[Any] = []

    def insert(_t: int, _i: int) -> None:
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(plain)
            opened.append(local.conn)
        local.conn.execute("INSERT INTO floor (body) VALUES (%s)", (body,))
        local.conn.commit()

    try:
        return _concurrently(threads, total // threads, insert)
    finally:
        for conn in opened:
            conn.close()


def bench_pg(
    server_url: str, workdir: Path, count: int, appends: int
) -> tuple[dict[str, Any], Hub, Any]:
    name = f"ehh_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    hub = Hub.start(Settings(data_dir=workdir, database_url=url), keyring=Keyring.generate())
    figures: dict[str, Any] = {
        "pg_floor_per_s_1": _pg_floor(url, 1, count),
        "pg_appends_per_s_1": _hub_appends(hub, 1, count),
        "pg_floor_per_s_8": _pg_floor(url, WRITERS, max(count, 2000)),
    }
    before = hub.log.batches
    figures["pg_appends_per_s_8"] = _hub_appends(hub, WRITERS, appends)
    figures["pg_batches_8"] = hub.log.batches - before
    with hub.sessions() as session:
        result = log.verify(session)
    figures["pg_chain_ok"] = result.ok
    figures["pg_entries"] = result.entries

    def drop() -> None:
        hub.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return figures, hub, drop


# Verification ------------------------------------------------------------------------------


def bench_verify(hub: Hub, workdir: Path, runs: int = 5) -> dict[str, float]:
    size = hub.log.sign_now()
    out = workdir / "export"
    with hub.sessions() as session:
        export_log(session, out, size=size, vkey=hub.log_signer.vkey)
    lines = (out / "entries.ndjson").read_bytes().split(b"\n")[:-1]

    def bare() -> None:
        sha256 = hashlib.sha256
        previous = bytes(32)
        for line in lines:
            previous = sha256(previous + sha256(b"\x00" + line).digest()).digest()

    def ours(deep: bool) -> None:
        check = verify_export(out, hub.log_signer.vkey, deep=deep)
        if not check.ok:
            raise SystemExit(f"export does not verify: {check.reason}")

    def rate(fn: Callable[[], None]) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return len(lines) / statistics.median(times)

    return {
        "verify_entries": len(lines),
        "verify_entries_per_s": rate(lambda: ours(False)),
        "verify_deep_entries_per_s": rate(lambda: ours(True)),
        "sha256_entries_per_s": rate(bare),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appends", type=int, default=20000, help="PostgreSQL 8-writer appends")
    parser.add_argument("--count", type=int, default=1000, help="appends for the other runs")
    parser.add_argument(
        "--verify-only", action="store_true", help="only the offline export verification"
    )
    args = parser.parse_args()
    if args.verify_only:
        _verify_only(args.appends + args.count)
        return
    figures: dict[str, Any] = {}
    pg_url = os.environ.get("HUB_DATABASE_URL")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sqlite_figures, sqlite_hub = bench_sqlite(workdir / "sqlite", args.count)
        figures.update(sqlite_figures)
        verify_hub, cleanup = sqlite_hub, sqlite_hub.close
        if pg_url:
            if pg_url.startswith(("postgresql://", "postgres://")):
                pg_url = "postgresql+psycopg://" + pg_url.split("://", 1)[1]
            pg_figures, pg_hub, drop = bench_pg(pg_url, workdir / "pg", args.count, args.appends)
            figures.update(pg_figures)
            sqlite_hub.close()
            verify_hub, cleanup = pg_hub, drop
        else:
            figures.update({k: None for k in (
                "pg_appends_per_s_1", "pg_appends_per_s_8", "pg_floor_per_s_1", "pg_floor_per_s_8"
            )})  # fmt: skip
        try:
            figures.update(bench_verify(verify_hub, workdir))
        finally:
            cleanup()
    _table(figures)
    print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}))


def _verify_only(entries: int) -> None:
    """A log the size of the PostgreSQL run's, written to SQLite, then only its export verified."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        db = workdir / "hub.db"
        upgrade(f"sqlite:///{db}")
        hub = Hub.start(Settings(data_dir=workdir, database_url=f"sqlite:///{db}"),
                        keyring=Keyring.generate())  # fmt: skip
        try:
            _hub_appends(hub, WRITERS, entries)
            figures = bench_verify(hub, workdir)
        finally:
            hub.close()
    print(
        f"{'Export verification, entries/s':34}{figures['verify_entries_per_s']:>14,.0f}"
        f"{figures['sha256_entries_per_s']:>14,.0f}  (bare SHA-256 chaining)"
    )
    deep = figures["verify_deep_entries_per_s"]
    print(f"{'  with every entry parsed (--deep)':34}{deep:>14,.0f}")
    print(f"  over {figures['verify_entries']:,} exported entries; medians of 5 runs")
    print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}))


def _table(f: dict[str, Any]) -> None:
    def show(v: Any) -> str:
        return "skipped" if v is None else f"{v:,.0f}"

    print(f"{'':34}{'hub':>14}{'bare floor':>14}")
    print(
        f"{'SQLite appends/s, 1 writer':34}{show(f['sqlite_appends_per_s_1']):>14}"
        f"{show(f['sqlite_floor_per_s_1']):>14}"
    )
    print(
        f"{'SQLite appends/s, 8 writers':34}{show(f['sqlite_appends_per_s']):>14}"
        f"{show(f['sqlite_floor_per_s']):>14}"
    )
    print(
        f"{'PostgreSQL appends/s, 1 writer':34}{show(f['pg_appends_per_s_1']):>14}"
        f"{show(f['pg_floor_per_s_1']):>14}"
    )
    print(
        f"{'PostgreSQL appends/s, 8 writers':34}{show(f['pg_appends_per_s_8']):>14}"
        f"{show(f['pg_floor_per_s_8']):>14}"
    )
    if f.get("pg_batches_8"):
        print(
            f"  8-writer run: {f['pg_entries']:,} entries in the log, "
            f"{f['pg_batches_8']:,} commits, chain verifies: {f['pg_chain_ok']}"
        )
    print(
        f"{'Export verification, entries/s':34}{show(f['verify_entries_per_s']):>14}"
        f"{show(f['sha256_entries_per_s']):>14}  (bare SHA-256 chaining)"
    )
    print(f"{'  with every entry parsed (--deep)':34}{show(f['verify_deep_entries_per_s']):>14}")
    print(f"  over {f['verify_entries']:,} exported entries; medians of 5 runs")  # fmt: skip


if __name__ == "__main__":
    main()
