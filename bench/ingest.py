"""Ingest benchmark: synthesise a county, import all four agencies into a fresh SQLite hub.

The baseline, in the same run, is the floor any import could reach: the same files parsed
by the same adapters with no hub behind them, and the resulting rows written with one bare
``executemany`` into SQLite. The machine is shared (2 cores, other work running): expect
noise and compare within one run.

    python bench/ingest.py [--children 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from datetime import date
from pathlib import Path

from adapters import ADAPTERS
from adapters.base import Quarantined
from adapters.run import files_in, import_file
from hub.crypto.keys import Keyring
from hub.db.migrate import upgrade
from hub.runtime import Hub
from hub.settings import Settings
from hub.synth import synthesise

FILES = {"health": "health.ndjson", "police": "police.jsonl", "council": "council.csv"}


def sources(out: Path) -> list[tuple[str, Path]]:
    found = [(kind, out / name) for kind, name in FILES.items()]
    found += [("school", path) for path in files_in(out / "school")]
    return found


def baseline(out: Path, work: Path) -> tuple[float, float, int]:
    """Adapter parsing alone, then a bare executemany of its rows: the floor."""
    started = time.perf_counter()
    rows: list[tuple[str, str, str]] = []
    for kind, path in sources(out):
        adapter = ADAPTERS[kind]()
        adapter.check(path)
        for item in adapter.read(path):
            if not isinstance(item, Quarantined):
                rows.append((kind, item.local_id, item.payload.model_dump_json()))
    parsed = time.perf_counter() - started
    connection = sqlite3.connect(work / "baseline.db")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(
        "CREATE TABLE row (kind TEXT, local_id TEXT, payload TEXT, "
        "PRIMARY KEY (kind, local_id, payload))"
    )
    started = time.perf_counter()
    with connection:
        connection.executemany("INSERT OR REPLACE INTO row VALUES (?, ?, ?)", rows)
    written = time.perf_counter() - started
    connection.close()
    return parsed, written, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ehh-bench-") as tmp:
        work = Path(tmp)
        out = work / "county"
        started = time.perf_counter()
        county = synthesise(out, children=args.children, seed=args.seed, as_of=date.today())
        synth_seconds = time.perf_counter() - started

        settings = Settings(data_dir=work / "data", database_url=f"sqlite:///{work / 'hub.db'}")
        upgrade(settings.sqlalchemy_url)
        hub = Hub.start(settings, keyring=Keyring.generate())
        per_kind: dict[str, dict[str, float]] = {}
        started = time.perf_counter()
        try:
            for kind, path in sources(out):
                kind_started = time.perf_counter()
                summary, _ = import_file(hub, kind, path)
                figures = per_kind.setdefault(
                    kind, dict.fromkeys(("records", "quarantined", "seconds"), 0.0)
                )
                figures["records"] += summary.imported + summary.updated + summary.unchanged
                figures["quarantined"] += summary.quarantined
                figures["seconds"] += time.perf_counter() - kind_started
        finally:
            hub.close()
        seconds = time.perf_counter() - started
        parsed, written, base_rows = baseline(out, work)

    records = int(sum(f["records"] for f in per_kind.values()))
    quarantined = int(sum(f["quarantined"] for f in per_kind.values()))
    print(
        f"County: {county.children:,} children, {county.families:,} families, "
        f"synthesised in {synth_seconds:.1f} s"
    )
    print(f"{'agency':<10}{'rows':>10}{'quarantined':>13}{'seconds':>10}{'rows/s':>10}")
    for kind, f in per_kind.items():
        print(
            f"{kind:<10}{int(f['records']):>10,}{int(f['quarantined']):>13,}"
            f"{f['seconds']:>10.1f}{f['records'] / f['seconds']:>10.0f}"
        )
    print(
        f"{'hub total':<10}{records:>10,}{quarantined:>13,}{seconds:>10.1f}"
        f"{records / seconds:>10.0f}"
    )
    print(
        f"{'baseline':<10}{base_rows:>10,}{'':>13}{parsed + written:>10.1f}"
        f"{base_rows / (parsed + written):>10.0f}  (adapters parse {parsed:.1f} s, "
        f"bare executemany {written:.2f} s)"
    )
    print(
        json.dumps(
            {
                "children": county.children,
                "records": records,
                "seconds": round(seconds, 2),
                "records_per_s": round(records / seconds, 1),
                "quarantined": quarantined,
                "synth_seconds": round(synth_seconds, 2),
                "baseline_rows": base_rows,
                "baseline_parse_seconds": round(parsed, 2),
                "baseline_executemany_seconds": round(written, 3),
                "baseline_records_per_s": round(base_rows / (parsed + written), 1),
                "executemany_rows_per_s": round(base_rows / written, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
