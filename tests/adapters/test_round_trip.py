"""The synthetic county goes through all four adapters; re-runs and killed runs lose nothing."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from adapters.ledger import ImportLedger
from adapters.run import files_in
from hub.crypto.keys import Keyring
from hub.db.migrate import upgrade
from hub.runtime import Hub
from hub.settings import Settings
from hub.synth import synthesise
from tests.adapters.helpers import run, snapshot
from tests.conftest import PUBLIC_URL

AS_OF = date(2026, 9, 1)
HUB = Path(sys.executable).parent / "hub"
# Small enough for the default suite; the 10,000-child round trip is marked slow.
CHILDREN = 20
# Large enough that a batched import is still running when the test kills it.
KILLED_CHILDREN = 200
FILES = {"health": "health.ndjson", "police": "police.jsonl", "council": "council.csv"}


def import_county(hub: Hub, out: Path) -> Counter[str]:
    totals: Counter[str] = Counter()
    for kind, name in FILES.items():
        summary, _ = run(hub, kind, out / name)
        totals.update({f"{kind}-quarantined": summary.quarantined})
    for path in files_in(out / "school"):
        summary, _ = run(hub, "school", path)
        totals.update({"school-quarantined": summary.quarantined})
    return totals


def truth(out: Path) -> list[dict[str, str]]:
    with open(out / "truth.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def check_against_truth(hub: Hub, out: Path) -> None:
    rows = truth(out)
    expected = {(r["agency"], r["local_id"]): r["person_id"] for r in rows if not r["defect"]}
    held = snapshot(hub)
    found = {member for group in held["groups"] for member in group}
    missing = set(expected) - found
    assert not missing, sorted(missing)[:5]
    # Deterministic linking never puts two true people together.
    for group in held["groups"]:
        true_people = {expected[m] for m in group if m in expected}
        assert len(true_people) <= 1, group


def test_synth_is_deterministic_by_seed(tmp_path: Path) -> None:
    one = synthesise(tmp_path / "a", children=120, seed=5, as_of=AS_OF)
    synthesise(tmp_path / "b", children=120, seed=5, as_of=AS_OF)
    synthesise(tmp_path / "c", children=120, seed=6, as_of=AS_OF)
    assert one.children == 120
    a = (tmp_path / "a" / "health.ndjson").read_bytes()
    assert a == (tmp_path / "b" / "health.ndjson").read_bytes()
    assert a != (tmp_path / "c" / "health.ndjson").read_bytes()
    assert (tmp_path / "a" / "truth.csv").read_bytes() == (
        tmp_path / "b" / "truth.csv"
    ).read_bytes()


def test_the_county_round_trips_and_a_second_import_changes_nothing(
    hub: Hub, tmp_path: Path
) -> None:
    out = tmp_path / "county"
    summary = synthesise(out, children=CHILDREN, seed=2, as_of=AS_OF)
    rows = truth(out)
    kinds = Counter(r["agency_kind"] for r in rows)
    assert all(kinds[k] for k in ("health", "school", "police", "council")), kinds
    import_county(hub, out)
    check_against_truth(hub, out)
    held = snapshot(hub)
    assert held["consents"], "the county records consents"
    assert summary.children == CHILDREN

    import_county(hub, out)
    assert snapshot(hub) == held


def _count_ledger(settings: Settings) -> int:
    engine = create_engine(settings.sqlalchemy_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(select(func.count()).select_from(ImportLedger)).scalar_one()
            )
    finally:
        engine.dispose()


class Interrupted(Exception):
    pass


def test_an_interrupted_import_rerun_ends_like_one_clean_run(
    hub: Hub, keyring: Keyring, tmp_path: Path
) -> None:
    out = tmp_path / "county"
    synthesise(out, children=CHILDREN, seed=4, as_of=AS_OF)
    file = out / "health.ndjson"
    batches = []

    def stop_after_two(rows: int) -> None:
        batches.append(rows)
        if len(batches) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        run(hub, "health", file, batch_size=25, on_row=stop_after_two)
    resumed, _ = run(hub, "health", file, batch_size=25)
    assert resumed.unchanged == 50  # the two committed batches are not written again

    clean = _clean_hub(tmp_path, keyring)
    try:
        run(clean, "health", file)
        assert snapshot(hub) == snapshot(clean)
    finally:
        clean.close()


def _clean_hub(tmp_path: Path, keyring: Keyring) -> Hub:
    clean_settings = Settings(
        data_dir=tmp_path / "clean", database_url=f"sqlite:///{tmp_path / 'clean.db'}",
        public_url=PUBLIC_URL,
    )  # fmt: skip
    upgrade(clean_settings.sqlalchemy_url)
    return Hub.start(clean_settings, keyring=keyring)


@pytest.mark.slow
def test_a_killed_import_rerun_ends_like_one_clean_run(
    hub: Hub, settings: Settings, keyring: Keyring, tmp_path: Path
) -> None:
    out = tmp_path / "county"
    synthesise(out, children=KILLED_CHILDREN, seed=4, as_of=AS_OF)
    file = out / "health.ndjson"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {
        "HUB_DATABASE_URL": settings.sqlalchemy_url,
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_KEYS_JSON": keyring.to_json(),
        "HUB_PUBLIC_URL": PUBLIC_URL,
    }
    command = [str(HUB), "import", "health", str(file), "--batch-size", "10"]
    victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and victim.poll() is None:
        if _count_ledger(settings) >= 30:
            break
        time.sleep(0.05)
    assert victim.poll() is None, "the import finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    partial = _count_ledger(settings)
    assert partial >= 30

    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr

    clean = _clean_hub(tmp_path, keyring)
    try:
        run(clean, "health", file)
        assert snapshot(hub) == snapshot(clean)
    finally:
        clean.close()


@pytest.mark.slow
def test_a_county_of_ten_thousand_round_trips(hub: Hub, tmp_path: Path) -> None:
    out = tmp_path / "county"
    synthesise(out, children=10_000, seed=9, as_of=AS_OF)
    import_county(hub, out)
    check_against_truth(hub, out)
