"""The hub's outermost layer: a cap on body size that a chunked upload cannot dodge, and
the request's metrics and log line.

A declared ``Content-Length`` over the limit is refused at once; the bytes actually received
are counted too, so a body sent without a length is stopped at the limit instead of being
read into memory whole. The count raises inside the route as it reads the body, so the
route's own error handling answers it, in the hub's JSON shape (Starlette's own limiter
answers in plain text).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub import metrics
from hub.errors import error_body
from hub.logging import log


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


class RequestGuard:
    """The outermost layer: refuse an oversize body, mark every answer nosniff, and
    count, time and log each request (route template and status only, nothing personal).

    Plain ASGI rather than Starlette's BaseHTTPMiddleware, which costs every request a task
    and a pair of memory streams.
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        received = 0
        limit = self.limit

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def marked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Content-Type-Options"] = "nosniff"
            await send(message)

        try:
            if self._declared_too_large(scope):
                refusal = SafeJSONResponse(
                    error_body(
                        f"The request body is larger than {self.limit} bytes.", "body-too-large"
                    ),
                    status_code=413,
                )
                await refusal(scope, receive, marked)
            else:
                await self.app(scope, counted, marked)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
            metrics.REQUESTS.labels(scope["method"], route, str(status)).inc()
            metrics.REQUEST_SECONDS.labels(route).observe(elapsed)
            log.info(
                "request",
                method=scope["method"],
                route=route,
                status=status,
                ms=round(elapsed * 1000, 2),
            )

    def _declared_too_large(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                return not value.isdigit() or int(value) > self.limit
        return False


class SafeJSONResponse(JSONResponse):
    """JSON with ``<``, ``>`` and ``&`` escaped, so no text a caller sent is ever markup.

    Error messages may quote what was sent (an identifier that failed its check); escaped
    this way it stays the same JSON value but cannot be read as HTML by anything that
    renders or sniffs the body.
    """

    def render(self, content: Any) -> bytes:
        return _escaped(super().render(content))

    @classmethod
    def of(cls, model: BaseModel, status_code: int = 200) -> Response:
        """A model as JSON, serialised by pydantic in one step.

        Returning the model itself from a route would have FastAPI dump it, validate the
        dump against the response model and encode it again: on the hub's busiest route
        that cost more than the rest of building the answer.
        """
        return Response(
            _escaped(model.model_dump_json().encode()),
            status_code=status_code,
            media_type="application/json",
        )


def _escaped(rendered: bytes) -> bytes:
    for raw, escaped in ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026")):
        rendered = rendered.replace(raw, escaped)
    return rendered
