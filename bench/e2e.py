"""End-to-end load: a real hub (uvicorn, 2 workers, 127.0.0.1) against the bare floor.

For each database (SQLite; PostgreSQL when HUB_DATABASE_URL names a server), builds a
100,000-child county once and caches it (SQLite file or PG database ``ehh_bench_county``),
loads bench/floor_app.py (one indexed SELECT, one committed INSERT) from a second process
with 16 concurrent connections for ``--seconds``, as fast as it answers; then the hub the
same way, on the full "who else is involved" path (bearer token verified, identifier
resolved through the blind index, rules + consent + shielding, log entry committed); then
the hub again with requests due at half the floor's rate, latency counted from when each
was due (the issue's "p99 at that load"). The floor is paced at that same rate too, so the
tail the machine itself gives at that load is printed beside the hub's. Last line:
{"runs": [{"db", "hub_rps", "hub_p50_ms", "hub_p99_ms", "floor_rps", "floor_p99_ms", "ratio",
"hub_at_half_floor_rps", "hub_at_half_floor_p99_ms", "floor_at_half_floor_p99_ms",
"hub_at_half_floor_busy", "hub_at_half_floor_server_cpu_ms", ...}]}: each paced run also
reports the share of the machine's CPUs busy while it ran and the CPU milliseconds a request
cost the server's processes, PostgreSQL and the load generator (bench/cpu_use.py), the same
for the floor, so that a tail can be read against how near saturation the machine was.

The request mix: 80% permitted (council social worker, s47 enquiry, involvements
disclosed), 10% refused (no rule), 10% unknown child. The load generator is Python (aiohttp),
on the same 2-core machine: it takes CPU from the servers, equally for hub and floor.

    python bench/e2e.py [--seconds 30] [--children 100000] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cpu_use import snapshot, usage  # noqa: E402
from bench.free_port import require_free  # noqa: E402

CACHE = ROOT / ".bench-cache"
HUB_PORT = 18431
FLOOR_PORT = 18432
PUBLIC_URL = f"http://127.0.0.1:{HUB_PORT}"
CONCURRENCY = 16
PACED_CPU = ("busy", "server_cpu_ms", "postgres_cpu_ms", "load_cpu_ms")
"""What each paced run reports of the CPU it cost (see paced)."""


def nhs_numbers(count: int) -> list[str]:
    """Distinct 999-prefixed test NHS numbers with valid check digits."""
    found: list[str] = []
    i = 0
    while len(found) < count:
        body = f"999{i:06d}"
        i += 1
        total = sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check != 10:
            found.append(body + ("0" if check == 11 else str(check)))
    return found


def build(url: str, cache: Path, children: int) -> None:
    """The demo county through the service layer, then the bulk of children inserted directly."""
    from sqlalchemy import insert, select, text

    from hub.agencies.models import Agency
    from hub.crypto.keys import Keyring, write_key_file
    from hub.db.migrate import upgrade
    from hub.demo import build_county
    from hub.involvements.models import Involvement
    from hub.people.models import AgencyRecord, Person, RecordIdentifier
    from hub.runtime import Hub
    from hub.settings import Settings

    started = time.time()
    upgrade(url)
    keyring = Keyring.generate()
    write_key_file(keyring, cache / "keys.json")
    hub = Hub.start(Settings(database_url=url, data_dir=cache), keyring=keyring)
    county = build_county(hub, token_endpoint=f"{PUBLIC_URL}/oauth/token", children=24)
    with hub.sessions() as session:
        council = session.execute(select(Agency).where(Agency.kind == "council")).scalars().first()
        assert council is not None
        council_id = council.id
    numbers = nhs_numbers(children + 1000)
    known, unknown = numbers[:children], numbers[children:]
    today = date.today()
    cipher, blind = hub.crypto.cipher, hub.crypto.blind
    system = "https://fhir.nhs.uk/Id/nhs-number"
    batch = 5000
    for start in range(0, children, batch):
        people, records, identifiers, involvements = [], [], [], []
        for n, nhs in enumerate(known[start : start + batch], start=start):
            person_id, record_id = f"bench-p-{n:07d}", f"bench-r-{n:07d}"
            people.append({"id": person_id, "kind": "child"})
            records.append(
                {
                    "id": record_id,
                    "agency_id": council_id,
                    "local_id": f"B{n:07d}",
                    "person_id": person_id,
                    "kind": "child",
                    "given_name_enc": cipher.encrypt(f"Child{n}", column="given_name"),
                    "family_name_enc": cipher.encrypt("Benchmark", column="family_name"),
                    "link_method": "new",
                }
            )
            identifiers.append(
                {
                    "record_id": record_id,
                    "system": system,
                    "value_enc": cipher.encrypt(nhs, column="identifier"),
                    "blind_index": blind.of(system, nhs),
                }
            )
            involvements.append(
                {
                    "id": f"bench-i-{n:07d}",
                    "agency_id": council_id,
                    "local_id": f"BI{n:07d}",
                    "person_id": person_id,
                    "service": "early-help",
                    "service_name": "Early help",
                    "tier": "targeted",
                    "level_of_need": 2,
                    "lead_professional": True,
                    "start_date": today - timedelta(days=30),
                }
            )
        with hub.sessions() as session:
            session.execute(insert(Person), people)
            session.execute(insert(AgencyRecord), records)
            session.execute(insert(RecordIdentifier), identifiers)
            session.execute(insert(Involvement), involvements)
            session.commit()
    with hub.engine.begin() as conn:
        serial = "INTEGER PRIMARY KEY" if url.startswith("sqlite") else "BIGSERIAL PRIMARY KEY"
        conn.execute(text(f"CREATE TABLE bench_floor (id {serial}, note TEXT)"))
        if not url.startswith("sqlite"):
            conn.execute(text("ANALYZE"))
    hub.close()
    clients = {name: c.private_jwk for name, c in county.clients.items()}
    meta = {
        "url": url,
        "children": children,
        "known": random.Random(1).sample(known, 2000),
        "unknown": unknown,
        "clients": {
            name: {"client_id": c.client_id, "token_endpoint": c.token_endpoint, "jwk": jwk}
            for (name, c), jwk in zip(county.clients.items(), clients.values(), strict=True)
        },
        "blind": [blind.of(system, nhs) for nhs in known[:2000]],
        "built_seconds": round(time.time() - started, 1),
    }
    (cache / "meta.json").write_text(json.dumps(meta))


def prepare(db: str, children: int) -> dict[str, Any]:
    cache = CACHE / db
    meta_path = cache / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta["children"] == children:
            return dict(meta)
    cache.mkdir(parents=True, exist_ok=True)
    if db == "sqlite":
        for leftover in cache.glob("hub.db*"):
            leftover.unlink()
        url = f"sqlite:///{cache / 'hub.db'}"
    else:
        url = create_pg_database()
    print(f"building a {children:,}-child county on {db} (cached in {cache}) ...", flush=True)
    build(url, cache, children)
    return dict(json.loads(meta_path.read_text()))


def create_pg_database() -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from hub.settings import Settings

    base = make_url(Settings().sqlalchemy_url)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS ehh_bench_county WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE ehh_bench_county"))
    admin.dispose()
    return base.set(database="ehh_bench_county").render_as_string(hide_password=False)


def serve(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    require_free(port)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "hub.serve", app, "--host", "127.0.0.1", "--port", str(port)),
            *("--workers", "2"),
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
    )
    import httpx

    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code < 500:
                if process.poll() is None:
                    return process
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise SystemExit(f"{app} did not start on port {port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def paced(
    server: subprocess.Popen[bytes], target: str, seconds: float, meta_path: Path, rate: float
) -> dict[str, Any]:
    """A paced load, with what it cost the machine in CPU (bench/cpu_use.py)."""
    before = snapshot(server.pid)
    result = load(target, seconds, meta_path, rate=rate)
    return {**result, **usage(before, snapshot(server.pid), result["requests"])}


def load(target: str, seconds: float, meta_path: Path, rate: float = 0) -> dict[str, Any]:
    """Run the load generator in a second process; it prints one JSON line.

    Without a rate, each of the 16 connections sends its next request as soon as the last
    is answered (the most the server can do). With a rate, requests are due at that many a
    second and each latency is counted from when its request was due, not when it was sent,
    so a server that falls behind shows it in the latencies instead of hiding it.
    """
    done = subprocess.run(
        [
            *(sys.executable, __file__, "--generate", target, "--seconds", str(seconds)),
            *("--meta", str(meta_path), "--rate", str(rate)),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 120,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


async def generate(
    target: str, seconds: float, meta: dict[str, Any], rate: float = 0
) -> dict[str, Any]:
    import aiohttp  # its C parser keeps the load generator from being the bottleneck

    from hub.clients import ClientCredentials

    rng = random.Random(3)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=CONCURRENCY),
        timeout=aiohttp.ClientTimeout(total=30),
    ) as client:
        if target == "hub":
            tokens = {}
            for name, c in meta["clients"].items():
                creds = ClientCredentials(c["client_id"], c["token_endpoint"], c["jwk"])
                async with client.post(creds.token_endpoint, data=creds.token_form()) as answer:
                    answer.raise_for_status()
                    tokens[name] = (await answer.json())["access_token"]
            council = next(t for n, t in tokens.items() if "council" in n)
            health = next(t for n, t in tokens.items() if "health" in n)

        def request() -> tuple[str, dict[str, str], dict[str, str], int]:
            if target == "floor":
                url = f"http://127.0.0.1:{FLOOR_PORT}/floor"
                return url, {"key": rng.choice(meta["blind"])}, {}, 200
            roll = rng.random()
            url = f"{PUBLIC_URL}/v1/children/involvements"
            if roll < 0.8:
                nhs, token, role, purpose, want = (
                    rng.choice(meta["known"]),
                    council,
                    "social-worker",
                    "safeguarding-enquiry",
                    200,
                )
            elif roll < 0.9:
                nhs, token, role, purpose, want = (
                    rng.choice(meta["known"]),
                    health,
                    "health-visitor",
                    "referral",
                    403,
                )
            else:
                nhs, token, role, purpose, want = (
                    rng.choice(meta["unknown"]),
                    council,
                    "social-worker",
                    "safeguarding-enquiry",
                    403,
                )
            headers = {
                "Authorization": f"Bearer {token}",
                "X-Practitioner": "SW-1",
                "X-Practitioner-Role": role,
            }
            return url, {"identifier": f"nhs|{nhs}", "purpose": purpose}, headers, want

        latencies: list[float] = []
        wrong = 0
        cpu_began = time.process_time()
        end = time.perf_counter() + seconds
        began = time.perf_counter()
        issued = 0

        async def worker() -> None:
            nonlocal wrong, issued
            while time.perf_counter() < end:
                url, params, headers, want = request()
                started = time.perf_counter()
                if rate:
                    due = began + issued / rate
                    issued += 1
                    if due > started:
                        await asyncio.sleep(due - started)
                    started = due
                async with client.get(url, params=params, headers=headers) as response:
                    await response.read()
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status != want:
                    wrong += 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu_began
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "unexpected_status": wrong,
        "load_cpu_ms": round(cpu / len(latencies) * 1000, 3),
    }


def run(db: str, seconds: float, children: int) -> dict[str, Any]:
    meta = prepare(db, children)
    cache = CACHE / db
    hub_env = {
        "HUB_DATABASE_URL": meta["url"],
        "HUB_DATA_DIR": str(cache),
        "HUB_KEY_FILE": str(cache / "keys.json"),
        "HUB_PUBLIC_URL": PUBLIC_URL,
        "HUB_RATE_LIMIT": "",
        "HUB_LOG_LEVEL": "WARNING",
    }
    floor = serve("bench.floor_app:app", FLOOR_PORT, {"BENCH_FLOOR_DB": meta["url"]})
    try:
        floor_result = load("floor", seconds, cache / "meta.json")
        # The same paced load on the floor: the tail this machine gives at that rate to an
        # endpoint doing the least work, against which the hub's p99 there can be read.
        floor_half = paced(floor, "floor", seconds, cache / "meta.json", floor_result["rps"] / 2)
    finally:
        stop(floor)
    hub = serve("hub.asgi:app", HUB_PORT, hub_env)
    try:
        hub_result = load("hub", seconds, cache / "meta.json")
        # "p99 at that load": the hub offered exactly half the floor's rate, paced.
        half = paced(hub, "hub", seconds, cache / "meta.json", floor_result["rps"] / 2)
    finally:
        stop(hub)
    return {
        "db": db,
        "hub_rps": hub_result["rps"],
        "hub_p50_ms": hub_result["p50_ms"],
        "hub_p99_ms": hub_result["p99_ms"],
        "hub_unexpected_status": hub_result["unexpected_status"] + half["unexpected_status"],
        "floor_rps": floor_result["rps"],
        "floor_p50_ms": floor_result["p50_ms"],
        "floor_p99_ms": floor_result["p99_ms"],
        "ratio": round(hub_result["rps"] / floor_result["rps"], 3),
        "hub_at_half_floor_rps": half["rps"],
        "hub_at_half_floor_p50_ms": half["p50_ms"],
        "hub_at_half_floor_p99_ms": half["p99_ms"],
        "floor_at_half_floor_p50_ms": floor_half["p50_ms"],
        "floor_at_half_floor_p99_ms": floor_half["p99_ms"],
        # What the paced runs cost: the share of all CPUs busy, and CPU ms a request.
        **{
            f"{who}_at_half_floor_{k}": r[k]
            for who, r in (("hub", half), ("floor", floor_half))
            for k in PACED_CPU
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--generate", choices=["hub", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--meta", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        meta = json.loads(args.meta.read_text())
        print(json.dumps(asyncio.run(generate(args.generate, args.seconds, meta, args.rate))))
        return
    dbs = ["sqlite"]
    if os.environ.get("HUB_DATABASE_URL"):
        dbs.append("postgresql")
    if args.only:
        dbs = [args.only]
    runs = [run(db, args.seconds, args.children) for db in dbs]
    columns = (
        *("db", "hub_rps", "hub_p50_ms", "hub_p99_ms", "floor_rps", "floor_p99_ms", "ratio"),
        *("hub_at_half_floor_rps", "hub_at_half_floor_p99_ms", "floor_at_half_floor_p99_ms"),
    )
    print("  ".join(f"{c:>12}" for c in columns))
    for r in runs:
        print("  ".join(f"{r[c]!s:>12}" for c in columns))
    print(f"\nCPU at half the floor's rate ({os.cpu_count()} CPUs; ms a request):")
    print(
        "  ".join(
            f"{c:>16}" for c in ("db", "server", "busy", "server_ms", "postgres_ms", "load_ms")
        )
    )
    for r in runs:
        for who in ("hub", "floor"):
            cells = [r[f"{who}_at_half_floor_{k}"] for k in PACED_CPU]
            print("  ".join(f"{c!s:>16}" for c in (r["db"], who, *cells)))
    print(json.dumps({"runs": runs}))


if __name__ == "__main__":
    main()
