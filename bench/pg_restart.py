"""Restart PostgreSQL under load: clean 503s while it is down, recovery without help.

Runs its OWN throwaway cluster (initdb into a temporary directory, port 55432, trust auth,
as the ``postgres`` user when run as root), never the shared server. The hub (uvicorn, 2
workers) is loaded from 8 threads; after a few seconds the cluster is stopped (fast
shutdown) for ``--down`` seconds and started again. Every answer is classified by the
phase in which it was sent; the hub must answer only 200/403 while the database is up,
503 (with Retry-After) while it is down, never a 500 or a dropped connection, and be
answering 200/403 again by itself.

    python bench/pg_restart.py [--down 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.free_port import require_free  # noqa: E402
from hub.crypto.keys import Keyring, write_key_file  # noqa: E402
from hub.db.migrate import upgrade  # noqa: E402
from hub.demo import build_county  # noqa: E402
from hub.runtime import Hub  # noqa: E402
from hub.settings import Settings  # noqa: E402

BIN = Path("/usr/lib/postgresql/15/bin")
PG_PORT = 55432
HUB_PORT = 18451


def as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def pg_ctl(data: Path, action: str, port: int = PG_PORT) -> None:
    extra = (
        ["-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1"] if action == "start" else []
    )
    subprocess.run(
        as_postgres(
            [
                str(BIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(data / "log"),
                "-w",
                "-m",
                "fast",
                *extra,
                action,
            ]
        ),
        check=True,
        capture_output=True,
    )


def restart_under_load(
    down: float, *, hub_port: int = HUB_PORT, pg_port: int = PG_PORT
) -> dict[str, Any]:
    """One restart of a throwaway cluster under load, every answer counted by phase.

    Used by main() and by tests/ops/test_faults.py, which runs it in CI.
    """
    public_url = f"http://127.0.0.1:{hub_port}"
    tmp = Path(tempfile.mkdtemp(prefix="ehh-pg-"))
    data = tmp / "cluster"
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
    subprocess.run(
        as_postgres([str(BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
        check=True,
        capture_output=True,
    )
    pg_ctl(data, "start", pg_port)
    hub_process = None
    try:
        base = f"postgresql+psycopg://postgres@127.0.0.1:{pg_port}"
        subprocess.run(
            as_postgres([str(BIN / "createdb"), "-h", "127.0.0.1", "-p", str(pg_port), "hub"]),
            check=True,
        )
        url = f"{base}/hub"
        upgrade(url)
        keyring = Keyring.generate()
        keys = tmp / "keys.json"
        write_key_file(keyring, keys)
        hub = Hub.start(Settings(database_url=url, data_dir=tmp), keyring=keyring)
        county = build_county(hub, token_endpoint=f"{public_url}/oauth/token", children=8)
        hub.close()
        require_free(hub_port)
        hub_process = subprocess.Popen(
            [
                *(sys.executable, "-m", "hub.serve", "hub.asgi:app", "--host", "127.0.0.1"),
                *("--port", str(hub_port), "--workers", "2"),
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "HUB_DATABASE_URL": url,
                "HUB_KEY_FILE": str(keys),
                "HUB_PUBLIC_URL": public_url,
                "HUB_RATE_LIMIT": "",
                "HUB_LOG_LEVEL": "ERROR",
            },
            start_new_session=True,
        )
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"{public_url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("the hub did not become ready within 60 s")
            time.sleep(0.3)
        creds = next(c for n, c in county.clients.items() if "council" in n)
        token = httpx.post(creds.token_endpoint, data=creds.token_form()).json()["access_token"]
        nhs = [e["nhs"] for e in county.examples]
        phase = {"now": "before"}
        seen: Counter[tuple[str, str]] = Counter()
        retry_after_missing = 0
        stop = threading.Event()

        def client(i: int) -> None:
            nonlocal retry_after_missing
            with httpx.Client(timeout=10) as http:
                n = i
                while not stop.is_set():
                    n += 1
                    current = phase["now"]
                    try:
                        answer = http.get(
                            f"{public_url}/v1/children/involvements",
                            params={
                                "identifier": f"nhs|{nhs[n % len(nhs)]}",
                                "purpose": "team-around-the-family",
                            },
                            headers={
                                "Authorization": f"Bearer {token}",
                                "X-Practitioner": "EH-1",
                                "X-Practitioner-Role": "lead-professional",
                            },
                        )
                        outcome = str(answer.status_code)
                        if answer.status_code == 503 and "retry-after" not in answer.headers:
                            retry_after_missing += 1
                    except httpx.HTTPError as exc:
                        outcome = type(exc).__name__
                    seen[(current, outcome)] += 1
                    if outcome == "503":
                        time.sleep(0.05)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        time.sleep(3)
        phase["now"] = "stopping"  # pg_ctl stop -m fast: sessions end, then it waits
        pg_ctl(data, "stop", pg_port)
        phase["now"] = "down"
        time.sleep(down)
        phase["now"] = "starting"
        pg_ctl(data, "start", pg_port)
        phase["now"] = "after"
        restarted = time.time()
        recovered_after = None
        while time.time() - restarted < 20:
            time.sleep(0.2)
            if seen[("after", "200")] + seen[("after", "403")] > 0 and recovered_after is None:
                recovered_after = round(time.time() - restarted, 2)
            if recovered_after is not None and time.time() - restarted > recovered_after + 3:
                break
        stop.set()
        for t in threads:
            t.join()
    finally:
        if hub_process is not None:
            os.killpg(hub_process.pid, signal.SIGTERM)
            hub_process.wait(timeout=20)
        with contextlib.suppress(subprocess.CalledProcessError):
            pg_ctl(data, "stop", pg_port)
        shutil.rmtree(tmp, ignore_errors=True)
    bad = {f"{w}:{o}": c for (w, o), c in seen.items() if o not in ("200", "403", "503")}
    return {
        "down_seconds": down,
        "answers": {f"{w}:{o}": c for (w, o), c in sorted(seen.items())},
        "unclean": bad,
        "503_without_retry_after": retry_after_missing,
        "recovered_seconds_after_restart": recovered_after,
        "503_after_restart": seen[("after", "503")],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--down", type=float, default=5)
    args = parser.parse_args()
    result = restart_under_load(args.down)
    for phase_outcome, count in result["answers"].items():
        when, outcome = phase_outcome.split(":", 1)
        print(f"{when:<7} {outcome:<22} {count:>6}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
