"""A bare ASGI app answering with its worker's process id, for the serving tests; at /serving,
with what serves it (the event loop's module, and whether uvicorn's httptools parser is in)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = str(os.getpid()).encode()
    if scope["path"] == "/serving":
        loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
        parser = "httptools" if "uvicorn.protocols.http.httptools_impl" in sys.modules else "h11"
        body = f"{loop} {parser}".encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
