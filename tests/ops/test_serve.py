"""`hub serve` with several workers: every worker takes a share of the connections, and a
worker that dies is replaced on the same socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def started() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.serve", "tests.ops.pid_app:app", "--port", str(port),
         "--workers", "2"],
        cwd=ROOT,
        start_new_session=True,
    )  # fmt: skip
    try:
        yield process, port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


@pytest.fixture
def served(started: tuple[subprocess.Popen[bytes], int]) -> tuple[subprocess.Popen[bytes], int]:
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{started[1]}/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    return started


def connect(port: int, within: float = 30) -> socket.socket:
    deadline = time.time() + within
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=10)
        except ConnectionRefusedError:
            if time.time() > deadline:
                raise
            time.sleep(0.01)


def pids_over_new_connections(port: int, connections: int = 16) -> set[int]:
    """One request on each of ``connections`` connections, all opened before any is used
    (as a load balancer's or a client pool's keep-alive connections are)."""
    opened = [connect(port) for _ in range(connections)]
    try:
        pids = set()
        for sock in opened:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
            pids.add(int(answer.split(b"\r\n\r\n", 1)[1]))
        return pids
    finally:
        for sock in opened:
            sock.close()


def test_connections_waiting_together_reach_every_worker(
    started: tuple[subprocess.Popen[bytes], int],
) -> None:
    # Opened while the workers start, all 16 wait at once. On one shared socket the first
    # worker up took every one (as a busy worker takes every connection waiting); spread by
    # the kernel over a socket per worker, all 16 on one has a chance of 2 in 65,536.
    _, port = started
    assert len(pids_over_new_connections(port)) == 2


def test_a_worker_that_dies_is_replaced_on_its_socket(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = served
    before = pids_over_new_connections(port)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.time() + 30
    after: set[int] = set()
    while time.time() < deadline:
        try:
            after = pids_over_new_connections(port)
        except (OSError, ValueError):
            after = set()
        if len(after) == 2 and victim not in after:
            break
        time.sleep(0.5)
    assert len(after) == 2 and victim not in after
    assert process.poll() is None


def test_workers_serve_on_uvloop_with_the_httptools_parser(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    # Both are dependencies (pyproject.toml), and uvicorn takes them only if it finds them:
    # under bench/e2e.py they cut the hub's CPU a request by 7-28% in three pairs (README).
    _, port = served
    assert httpx.get(f"http://127.0.0.1:{port}/serving", timeout=10).text == "uvloop httptools"
