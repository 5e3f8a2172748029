"""Faults under load, in CI: the hub killed mid-request, and PostgreSQL restarted under it.

The harnesses are the benchmarks' own (bench/crash.py, bench/pg_restart.py), run here for a
few rounds so that every change is checked, not only those someone benchmarks by hand.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from bench.crash import kill_rounds
from bench.pg_restart import BIN, restart_under_load


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_no_answered_decision_is_lost_when_the_hub_is_killed(
    database_url: str, tmp_path: Path
) -> None:
    """SIGKILL to every hub process at a random moment under load, three times."""
    result = kill_rounds(
        database_url, tmp_path, 3, port=free_port(), seed=5, report=lambda _line: None
    )
    rounds = result["rounds"]
    assert [r["answered"] > 0 for r in rounds] == [True] * 3, rounds  # each kill was under load
    assert [r["missing"] for r in rounds] == [0, 0, 0], rounds
    assert all(r["chain_ok"] for r in rounds), rounds
    assert all(r["integrity"] == "ok" for r in rounds), rounds
    # The log holds at least every answered decision (and those killed before their answer).
    assert rounds[-1]["entries"] >= result["acknowledged"] > 0


@pytest.mark.slow
@pytest.mark.skipif(
    not (BIN / "initdb").exists() or (os.geteuid() == 0 and shutil.which("runuser") is None),
    reason="needs PostgreSQL 15's server binaries to run a throwaway cluster",
)
def test_requests_get_a_clean_503_while_postgresql_restarts_and_the_hub_recovers() -> None:
    """A throwaway cluster (never the shared server) stopped for two seconds under load."""
    result = restart_under_load(2.0, hub_port=free_port(), pg_port=free_port())
    answers = result["answers"]
    assert result["unclean"] == {}, answers  # no 500, no dropped connection, in any phase
    assert answers.get("before:200", 0) + answers.get("before:403", 0) > 0, answers
    assert answers.get("down:503", 0) > 0, answers  # the outage was seen, and answered 503
    assert result["503_without_retry_after"] == 0
    assert result["recovered_seconds_after_restart"] is not None, answers
    assert answers.get("after:200", 0) + answers.get("after:403", 0) > 0, answers
