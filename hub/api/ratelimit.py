"""Per-client rate limits: a client that asks too fast gets 429 and a Retry-After.

The client is the agency system named in a valid access token; requests without one (the
token endpoint, discovery, a bad token) are counted per remote address instead, so a forged
token cannot spend another system's allowance. The counting is the ``limits`` library's
moving window, in memory: each worker process counts on its own, so with N workers a
client may reach N times the rate (documented in SECURITY.md).
"""

from __future__ import annotations

import math
import time

import limits
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.api.guards import SafeJSONResponse
from hub.auth.tokens import TokenService
from hub.errors import HubError, error_body


class RateLimit:
    def __init__(self, app: ASGIApp, *, rate: str, tokens: TokenService) -> None:
        self.app = app
        self.items = limits.parse_many(rate) if rate else []
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.items:
            await self.app(scope, receive, send)
            return
        key = self.client_key(scope)
        refused = [item for item in self.items if not self.limiter.hit(item, key)]
        if not refused:
            await self.app(scope, receive, send)
            return
        reset = max(self.limiter.get_window_stats(item, key).reset_time for item in refused)
        wait = max(1, math.ceil(reset - time.time()))
        response = SafeJSONResponse(
            error_body(
                f"Your system is sending requests too fast; try again in {wait} seconds.",
                "rate-limited",
            ),
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
        await response(scope, receive, send)

    def client_key(self, scope: Scope) -> str:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                client = self._client_of(value.decode("latin-1"))
                if client:
                    return f"client:{client}"
        host = (scope.get("client") or ("unknown", 0))[0]
        return f"address:{host}"

    def _client_of(self, authorization: str) -> str | None:
        """The verified client id (TokenService remembers tokens it has verified)."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            return self.tokens.verify(token).client_id
        except HubError:
            return None
