"""A live hub on a loopback port and Debian's Chromium driven by Playwright.

The browser is the system one (/usr/bin/chromium, installed by .ci/run); Playwright never
downloads a browser here. Without Chromium these tests skip and say why.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from argon2 import PasswordHasher

from hub.app import create_app
from hub.console.demo import DemoSignIn, create_demo_users, make_requests
from hub.demo import build_county
from hub.runtime import Hub

CHROMIUM = Path(os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTEFACTS = Path(__file__).resolve().parents[2] / "artefacts" / "screenshots"
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class LiveHub:
    url: str
    hub: Hub
    sign_ins: dict[str, DemoSignIn]
    examples: list[dict[str, str]]

    def nhs(self, story: str) -> str:
        return next(e["nhs"] for e in self.examples if e["story"] == story)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveHub]:
    # The real argon2id settings cost about a second a hash here; the browser tests use less.
    monkeypatch.setattr(
        "hub.console.users._hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    county = build_county(hub, token_endpoint=hub.settings.token_endpoint, children=12)
    with hub.sessions() as session:
        sign_ins = {s.username: s for s in create_demo_users(session)}
        session.commit()
        make_requests(hub, session, [e["nhs"] for e in county.examples])
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(hub), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "the hub did not start"
    yield LiveHub(f"http://127.0.0.1:{port}", hub, sign_ins, county.examples)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser_page(tmp_path: Path):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=LAUNCH_FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            script_errors: list[str] = []
            page.on("pageerror", lambda error: script_errors.append(str(error)))
            yield page
            assert not script_errors, f"JavaScript errors on the pages: {script_errors}"
        finally:
            context.close()
