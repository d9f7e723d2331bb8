"""One error base class and one JSON error shape for every failure the API reports.

Every error response is ``{"error": {"code", "message", "request_id"}}`` (plus optional
``details``). Subclasses only pick a status and a code; the handler in ``app.py`` renders them.
"""

from __future__ import annotations

from typing import Any


class ApplianceError(Exception):
    """Base class: an error a client caused or should know about, with HTTP status and code."""

    status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class InvalidPayload(ApplianceError):
    status = 400
    code = "invalid_payload"


class Unauthorized(ApplianceError):
    status = 401
    code = "unauthorized"


class InvalidCredentials(ApplianceError):
    status = 401
    code = "invalid_credentials"


class Forbidden(ApplianceError):
    status = 403
    code = "forbidden"


class NotFound(ApplianceError):
    status = 404
    code = "not_found"


class Conflict(ApplianceError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApplianceError):
    status = 413
    code = "payload_too_large"


class NotReady(ApplianceError):
    status = 503
    code = "not_ready"


def error_body(code: str, message: str, request_id: str, details: Any = None) -> dict[str, Any]:
    """The single JSON error shape; tests pin it."""
    err: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if details is not None:
        err["details"] = details
    return {"error": err}


class UnknownTicker(NotFound):
    code = "unknown_ticker"
