"""README's first command: the demo comes up and its printed example request works."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

HUB = Path(sys.executable).parent / "hub"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_demo_serves_and_the_printed_example_answers(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["COLUMNS"] = "200"
    demo = subprocess.Popen(
        [str(HUB), "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        printed = ""
        deadline = time.monotonic() + 90
        while "audit verify" not in printed and time.monotonic() < deadline:
            line = demo.stdout.readline() if demo.stdout else ""
            if not line and demo.poll() is not None:
                break
            printed += line
        assert "audit verify" in printed, printed
        assert f"http://127.0.0.1:{port}/console/" in printed
        sign_in = re.search(r"ig\.officer\s+│\s+(\S+)\s+│", printed)
        assert sign_in, printed
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)

        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as browser:
            form = browser.get("/console/sign-in").text
            token_match = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert token_match
            signed_in = browser.post(
                "/console/sign-in",
                data={
                    "username": "ig.officer",
                    "password": sign_in.group(1),
                    "csrf_token": token_match.group(1),
                },
            )
            assert signed_in.status_code == 303, signed_in.text
            assert browser.get("/console/log").status_code == 200

        token_line = next(line for line in printed.splitlines() if line.startswith("TOKEN="))
        curl_line = next(line for line in printed.splitlines() if line.startswith("curl "))
        token_cmd = re.fullmatch(r"TOKEN=\$\((.*)\)", token_line.strip())
        assert token_cmd
        token = subprocess.run(
            shlex.split(token_cmd.group(1)),
            cwd=tmp_path,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        curl = shlex.split(curl_line.replace("$TOKEN", token))
        url = curl[-1]
        headers = dict(h.split(": ", 1) for flag, h in itertools.pairwise(curl) if flag == "-H")

        answer = httpx.get(url, headers=headers)

        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["decision_id"] and body["involvements"]
        verified = subprocess.run(
            [str(HUB), "audit", "verify"], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        demo.terminate()
        demo.wait(timeout=10)
