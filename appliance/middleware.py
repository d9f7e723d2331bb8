"""Pure-ASGI middleware: the Host rule, request id, access log + metrics, and credential
resolution.

Pure ASGI (not BaseHTTPMiddleware) because it adds no task per request and keeps streaming
bodies intact.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance.errors import ApplianceError, PayloadTooLarge, error_body
from appliance.hosts import HostRule
from appliance.logs import REQUEST_ID

if TYPE_CHECKING:
    from appliance.context import AppContext

access_log = logging.getLogger("appliance.access")
log = logging.getLogger("appliance.middleware")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_DIGITS = re.compile(r"[0-9]{1,20}")  # ASCII only: str.isdigit() accepts '²', int() does not


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body larger than {limit} bytes (max_body_bytes)")


def limit_body(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises 413 once the body passes ``limit`` bytes, so a handler reading
    the body (in one piece or streamed) never holds more than that in memory."""
    received = 0

    async def limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
        return message

    return limited


class ShuttingDown(ApplianceError):
    status = 503
    code = "shutting_down"

    def __init__(self) -> None:
        super().__init__(
            "the server is shutting down and stopped this request; retry shortly",
            headers={"Retry-After": "5", "Connection": "close"},
        )


async def send_error(send: Send, exc: ApplianceError, request_id: str) -> None:
    body = json.dumps(error_body(exc.code, exc.message, request_id, exc.details)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    """Assigns the request id, resolves the caller, times the request, logs and counts it."""

    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx
        self.hosts = HostRule(ctx.settings.allowed_hosts, ctx.settings.host)
        self._route_cache: dict[tuple[str, str], tuple[str, bool]] = {}
        # Request ids: a random prefix per app instance and a counter. uuid4 read the OS
        # random source on every request, a system call that hands the GIL to the database
        # writer thread and waits to get it back (measured ~70 us per request under load).
        self._id_prefix = uuid.uuid4().hex[:16]
        self._id_counter = itertools.count(1)

    def _new_id(self) -> str:
        return f"{self._id_prefix}{next(self._id_counter):016x}"

    def route_template(self, scope: Scope) -> str:
        return self.route_info(scope)[0]

    def route_info(self, scope: Scope) -> tuple[str, bool]:
        """The matched route's template and whether it is public (``@spec(auth=False)``)."""
        key = (scope["method"], scope["path"])
        cached = self._route_cache.get(key)
        if cached is not None:
            return cached
        info = ("<unmatched>", False)
        for route in self.ctx.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                endpoint_spec = getattr(getattr(route, "endpoint", None), "__openapi__", None)
                public = endpoint_spec is not None and not endpoint_spec.auth
                info = (getattr(route, "path", info[0]), public)
                break
        if len(self._route_cache) < 10_000:  # unmatched paths are unbounded; stop caching
            self._route_cache[key] = info
        return info

    async def _authenticate(self, scope: Scope, state: dict[str, Any]) -> None:
        try:
            await self.ctx.auth.authenticate(scope, state)
            if "user" not in state:
                # No credential in the headers: the console's session cookie, if any.
                await self.ctx.sessions.authenticate(scope, state)
        except ApplianceError:
            # A bad credential fails protected routes only: a public one (/healthz, the
            # Stripe webhook, /auth/token) is served as if no credential had been sent.
            if not self.route_info(scope)[1]:
                raise
            state.pop("user", None)
            state.pop("credential_id", None)
            state.pop("session", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else self._new_id()
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status_holder = [500]
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        limit = self.ctx.settings.max_body_bytes
        # Every log line written while serving this request (here, in handlers, in the
        # threads they hand work to) carries its id.
        context = REQUEST_ID.set(request_id)
        try:
            try:
                host = _header(scope, b"host")
                if not self.hosts.allows(host):
                    assert host is not None
                    raise self.hosts.refusal(host)
                length = _header(scope, b"content-length")
                # A declared length over the cap is refused before a byte is read; chunked or
                # lying clients are stopped by limit_body as the bytes arrive.
                if length and _DIGITS.fullmatch(length.strip()) and int(length) > limit:
                    raise _too_large(limit)
                await self._authenticate(scope, state)
            except ApplianceError as exc:
                await send_error(send_wrapper, exc, request_id)
            except Exception:
                # Outside the app's exception handlers: answer here, in the same JSON shape
                # and with the X-Request-ID, rather than a bare server error.
                log.exception("authentication failed", extra={"request_id": request_id})
                await send_error(
                    send_wrapper, ApplianceError("internal error; see the server log"), request_id
                )
            else:
                try:
                    await self.app(scope, limit_body(receive, limit), send_wrapper)
                except asyncio.CancelledError:
                    # The server is stopping and this request outlived the grace period:
                    # answer in the JSON shape (uvicorn would send a plain-text 500) before
                    # the cancellation goes on; a billable one was refunded on its way out.
                    if not response_started:
                        with contextlib.suppress(Exception):
                            await send_error(send_wrapper, ShuttingDown(), request_id)
                    raise
        finally:
            elapsed = time.perf_counter() - started
            route = self.route_template(scope)
            status = status_holder[0]
            self.ctx.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.ctx.metrics.latency.labels(route, scope["method"]).observe(elapsed)
            if self.ctx.settings.access_log:
                user = state.get("user")
                method, path = scope["method"], scope["path"]
                access_log.info(
                    "%s %s %d %.1fms",
                    method,
                    path,
                    status,
                    elapsed * 1000,
                    extra={
                        "request_id": request_id,
                        "fields": {
                            "event": "request",
                            "method": method,
                            "path": path,
                            "route": route,
                            "status": status,
                            "duration_ms": round(elapsed * 1000, 3),
                            "user_id": getattr(user, "id", None),
                        },
                    },
                )
            REQUEST_ID.reset(context)
