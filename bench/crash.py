"""Kill the hub with SIGKILL at random moments under load; nothing acknowledged may be lost.

Each round: start the hub (hub.serve, 2 workers, 127.0.0.1) on a fresh-per-run SQLite county
(or on HUB_DATABASE_URL's server, in a database of its own), load it from 8 threads, SIGKILL
the whole process group after a random 1-4 s, then check with the hub down:
every decision id a client received in an answer is in the log, the chain verifies, the
head matches the entries, and (SQLite) the file passes integrity_check. 20 rounds.

    python bench/crash.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from bench.free_port import require_free  # noqa: E402
from hub.crypto.keys import Keyring, write_key_file  # noqa: E402
from hub.db.migrate import upgrade  # noqa: E402
from hub.demo import build_county  # noqa: E402
from hub.disclosure.log import verify  # noqa: E402
from hub.disclosure.models import LogEntry  # noqa: E402
from hub.runtime import Hub  # noqa: E402
from hub.settings import Settings  # noqa: E402

PORT = 18441


def start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    require_free(port)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "hub.serve", "hub.asgi:app", "--host", "127.0.0.1"),
            *("--port", str(port), "--workers", "2"),
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so SIGKILL reaches every worker
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                if process.poll() is None:
                    return process
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit("the hub did not start")


def kill_rounds(
    url: str,
    workdir: Path,
    rounds: int,
    *,
    port: int = PORT,
    seed: int = 11,
    report: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Kill-and-check rounds against the database at ``url`` (migrated here if it is not).

    Used by main() and by tests/ops/test_faults.py, which runs a few rounds in CI.
    """
    rng = random.Random(seed)
    public_url = f"http://127.0.0.1:{port}"
    upgrade(url)
    keyring = Keyring.generate()
    write_key_file(keyring, workdir / "keys.json")
    settings = Settings(database_url=url, data_dir=workdir)
    hub = Hub.start(settings, keyring=keyring)
    try:
        county = build_county(hub, token_endpoint=f"{public_url}/oauth/token", children=12)
        examples = county.examples
        creds = next(c for name, c in county.clients.items() if "council" in name)
        env = {
            "HUB_DATABASE_URL": url,
            "HUB_DATA_DIR": str(workdir),
            "HUB_KEY_FILE": str(workdir / "keys.json"),
            "HUB_PUBLIC_URL": public_url,
            "HUB_RATE_LIMIT": "",
            "HUB_LOG_LEVEL": "ERROR",
        }
        acknowledged: set[str] = set()
        done = []
        for round_no in range(1, rounds + 1):
            process = start(env, port)
            token = httpx.post(creds.token_endpoint, data=creds.token_form()).json()["access_token"]
            seen: list[str] = []
            stop = threading.Event()

            def client(
                seed: int,
                token: str = token,
                seen: list[str] = seen,
                stop: threading.Event = stop,
            ) -> None:
                own = random.Random(seed)
                with httpx.Client(timeout=5) as http:
                    while not stop.is_set():
                        identifier = f"nhs|{own.choice(examples)['nhs']}"
                        try:
                            answer = http.get(
                                f"{public_url}/v1/children/involvements",
                                params={
                                    "identifier": identifier,
                                    "purpose": "team-around-the-family",
                                },
                                headers={
                                    "Authorization": f"Bearer {token}",
                                    "X-Practitioner": "EH-1",
                                    "X-Practitioner-Role": "lead-professional",
                                },
                            )
                            decision = answer.json().get("decision_id")
                        except (httpx.HTTPError, ValueError):
                            continue  # killed mid-request: no answer, no promise
                        if decision:
                            seen.append(decision)

            threads = [
                threading.Thread(target=client, args=(round_no * 100 + i,)) for i in range(8)
            ]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(1.0, 4.0))
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            stop.set()
            for t in threads:
                t.join()
            acknowledged.update(seen)
            with hub.sessions() as session:
                stored = set(session.execute(select(LogEntry.entry_id)).scalars())
                chain = verify(session)
                integrity = "ok"
                if url.startswith("sqlite"):
                    integrity = session.execute(text("PRAGMA integrity_check")).scalar_one()
            missing = acknowledged - stored
            done.append(
                {
                    "round": round_no,
                    "answered": len(seen),
                    "missing": len(missing),
                    "chain_ok": chain.ok,
                    "entries": chain.entries,
                    "integrity": integrity,
                }
            )
            report(
                f"round {round_no:>2}: {len(seen):>5} answered, {len(missing)} missing, "
                f"chain {'verifies' if chain.ok else 'BROKEN: ' + str(chain.reason)}, "
                f"{chain.entries} entries, integrity {integrity}"
            )
    finally:
        hub.close()
    return {
        "db": "sqlite" if url.startswith("sqlite") else "postgresql",
        "rounds": done,
        "acknowledged": len(acknowledged),
        # Counted against everything answered in every round so far, so the last round's
        # figure is the whole run's.
        "missing": done[-1]["missing"] if done else 0,
        "chain_verified_every_round": all(r["chain_ok"] for r in done),
        "integrity_ok_every_round": all(r["integrity"] == "ok" for r in done),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("HUB_DATABASE_URL") or f"sqlite:///{tmp}/hub.db"
        if not url.startswith("sqlite"):
            url = fresh_pg(url)
        result = kill_rounds(
            url, Path(tmp), args.rounds, report=lambda line: print(line, flush=True)
        )
    print(json.dumps({**result, "rounds": len(result["rounds"])}))


def fresh_pg(url: str) -> str:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(Settings(database_url=url).sqlalchemy_url)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS ehh_bench_crash WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE ehh_bench_crash"))
    admin.dispose()
    return base.set(database="ehh_bench_crash").render_as_string(hide_password=False)


if __name__ == "__main__":
    main()
