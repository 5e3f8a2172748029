"""Errors a practitioner or an agency's developer can act on, with a stable code.

Every error leaves the API as ``{"message": ..., "errors": [{"code", "description"}]}``;
anything unexpected becomes one generic 500 with no detail (the detail goes to the log,
without personal data).
"""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    status_code = 400
    code = "bad-request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra or {}
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "errors": [{"code": self.code, "description": self.message}],
            **self.extra,
        }


class BadRequest(HubError):
    status_code = 400
    code = "bad-request"


class Unauthenticated(HubError):
    status_code = 401
    code = "not-authenticated"

    def __init__(self, message: str, *, code: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="early-help-hub"'})
        super().__init__(message, code=code, **kwargs)


class Forbidden(HubError):
    status_code = 403
    code = "forbidden"


class NotFound(HubError):
    status_code = 404
    code = "not-found"


class Conflict(HubError):
    status_code = 409
    code = "conflict"


class Unavailable(HubError):
    status_code = 503
    code = "unavailable"


def error_body(message: str, code: str) -> dict[str, Any]:
    return {"message": message, "errors": [{"code": code, "description": message}]}
