"""Console sign-in sessions: an HttpOnly, SameSite=Strict cookie, and CSRF protection for
every state-changing request such a cookie authenticates.

The cookie holds a random token; the database keeps only its SHA-256 (a copied database
cannot sign anyone in), with the user, an expiry and the session's CSRF token. A browser sends
the cookie by itself, so a request it authenticates must also prove it came from the console:
an ``X-CSRF-Token`` header equal to the session's token (which only a same-origin script can
read, from ``GET /auth/session``) and, when the browser sends one, an ``Origin`` equal to the
appliance's own. API keys and bearer tokens in headers are never sent by a browser on its own
and need neither.

The cookie's name carries the install id: cookies do not separate ports, so two appliances on
one host (127.0.0.1:8000 and :9000) would otherwise overwrite each other's sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import Scope

from appliance.billing.usage import timestamp
from appliance.db.database import Database
from appliance.db.queries import sessions as q
from appliance.db.queries import users as users_q
from appliance.db.queries.users import User
from appliance.errors import Forbidden, Unauthorized

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _now() -> datetime:
    return datetime.now(UTC)


class CsrfFailed(Forbidden):
    code = "csrf_failed"


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: str
    via: str  # "password" | "api_key"
    credential_id: str  # what rate limits are keyed on: the key's, or the user's


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def own_origin(scope: Scope) -> str | None:
    host = Headers(scope=scope).get("host")
    return f"{scope.get('scheme', 'http')}://{host}" if host else None


def check_origin(scope: Scope) -> None:
    """A browser names the page that sent a request in ``Origin``; another site's is refused.
    (Requests without it come from a same-origin GET or from a non-browser client.)"""
    origin = Headers(scope=scope).get("origin")
    if origin is not None and origin != own_origin(scope):
        raise CsrfFailed(f"cross-origin request from {origin} refused")


class Sessions:
    """Creates, resolves and ends console sessions. One per app."""

    def __init__(
        self,
        db: Database,
        install_id: str,
        ttl: timedelta,
        *,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.db = db
        self.ttl = ttl
        self.clock = clock
        self.cookie_name = f"appliance_session_{install_id.replace('-', '')[:12]}"

    def token_of(self, scope: Scope) -> str | None:
        cookie = Headers(scope=scope).get("cookie")
        if not cookie:
            return None
        return cookie_parser(cookie).get(self.cookie_name) or None

    async def create(self, user: User, api_key_id: int | None) -> tuple[str, Session]:
        """A new session; returns the cookie's token (never stored) and the session."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        expires = timestamp(self.clock() + self.ttl)
        await self.db.write(q.insert, _hash(token), csrf, user.id, api_key_id, expires)
        return token, self._session(user, csrf, expires, api_key_id)

    async def resolve(self, token: str) -> Session | None:
        row = await self.db.read(q.live, _hash(token), timestamp(self.clock()))
        if row is None:
            return None
        user = await self.db.read(users_q.by_id, row.user_id)
        if user is None or user.disabled_at is not None:
            return None  # disabling ends the sessions too; this covers one made meanwhile
        return self._session(user, row.csrf_token, row.expires_at, row.api_key_id)

    async def end(self, token: str) -> None:
        await self.db.write(q.delete, _hash(token))

    async def purge(self) -> int:
        return await self.db.write(q.purge_expired, timestamp(self.clock()))

    @staticmethod
    def _session(user: User, csrf: str, expires: str, api_key_id: int | None) -> Session:
        via = "password" if api_key_id is None else "api_key"
        credential = f"user:{user.id}" if api_key_id is None else f"key:{api_key_id}"
        return Session(user, csrf, expires, via, credential)

    async def authenticate(self, scope: Scope, state: dict[str, Any]) -> None:
        """Sets ``state["user"]`` and ``state["session"]`` from the session cookie, if any.

        Raises Unauthorized for an expired or unknown session and CsrfFailed for a
        state-changing request without the session's CSRF token or from another origin.
        """
        token = self.token_of(scope)
        if token is None:
            return
        session = await self.resolve(token)
        if session is None:
            raise Unauthorized("your console session has ended; sign in again")
        if scope["method"] not in SAFE_METHODS:
            sent = Headers(scope=scope).get(CSRF_HEADER.lower(), "")
            if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
                raise CsrfFailed(
                    f"a request authenticated by the console's cookie needs the {CSRF_HEADER}"
                    " header of its session (GET /auth/session)"
                )
            check_origin(scope)
        state["user"] = session.user
        state["credential_id"] = session.credential_id
        state["session"] = session

    def set_cookie(self, token: str, secure: bool) -> str:
        seconds = int(self.ttl.total_seconds())
        return self._cookie(token, seconds, secure)

    def clear_cookie(self, secure: bool) -> str:
        return self._cookie("", 0, secure)

    def _cookie(self, value: str, max_age: int, secure: bool) -> str:
        parts = [f"{self.cookie_name}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly"]
        parts.append("SameSite=Strict")
        if secure:
            parts.append("Secure")
        return "; ".join(parts)
