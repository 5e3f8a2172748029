"""Do "unknown child" and "not permitted" take the same time? Measured, not asserted.

In process (TestClient, a fresh SQLite hub), the two kinds of request are sent interleaved
in random order, N of each; the baseline is the same comparison between two requests of
the SAME kind (not permitted vs not permitted), which shows what noise alone looks like.
Prints medians and a Mann-Whitney U test (normal approximation) for both pairs; the last
line is JSON.

    python bench/timing.py [--n 400]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient

from hub.app import create_app
from hub.crypto.keys import Keyring
from hub.db.migrate import upgrade
from hub.runtime import Hub
from hub.settings import Settings
from tests.factories import NHS_NO_CONSENT, NHS_UNKNOWN, make_world, populate


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the U test, normal approximation with tie correction."""
    pooled = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = [0.0] * len(pooled)
    i = 0
    ties = 0.0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    n1, n2 = len(a), len(b)
    r1 = sum(r for r, (_, g) in zip(ranks, pooled, strict=True) if g == 0)
    u = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    z = (u - n1 * n2 / 2) / sigma
    return math.erfc(abs(z) / math.sqrt(2))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/hub.db"
        upgrade(url)
        settings = Settings(data_dir=Path(tmp), database_url=url, rate_limit="")
        hub = Hub.start(settings, keyring=Keyring.generate())
        with TestClient(create_app(hub)) as api:
            world = make_world(hub, api)
            populate(world)
            kinds = {
                "unknown": NHS_UNKNOWN,
                "denied": NHS_NO_CONSENT,
                "denied-again": NHS_NO_CONSENT,
            }
            order = [k for k in kinds for _ in range(args.n)]
            random.shuffle(order)
            for _ in range(30):  # warm up
                world.ask("COUNCIL", f"nhs|{NHS_NO_CONSENT}")
            times: dict[str, list[float]] = {k: [] for k in kinds}
            for kind in order:
                started = time.perf_counter()
                response = world.ask("COUNCIL", f"nhs|{kinds[kind]}")
                times[kind].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 403
        hub.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    p_project = mann_whitney_p(times["unknown"], times["denied"])
    p_baseline = mann_whitney_p(times["denied-again"], times["denied"])
    print(f"{'request':<14}{'n':>6}{'median ms':>12}{'p90 ms':>10}")
    for kind, values in times.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"{kind:<14}{len(values):>6}{med[kind]:>12.3f}{p90:>10.3f}")
    print(f"unknown vs denied:      Mann-Whitney p = {p_project:.3f}")
    print(f"denied vs denied again: Mann-Whitney p = {p_baseline:.3f}  (noise alone)")
    print("p well above 0.05 means no detectable difference at this sample size.")
    print(
        json.dumps(
            {
                "n": args.n,
                "unknown_median_ms": round(med["unknown"], 3),
                "denied_median_ms": round(med["denied"], 3),
                "median_difference_ms": round(med["unknown"] - med["denied"], 3),
                "p_unknown_vs_denied": round(p_project, 4),
                "p_baseline_denied_vs_denied": round(p_baseline, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
