"""Passwords, API keys, access tokens, and resolving the caller of a request.

- Passwords: scrypt (stdlib), per-user salt.
- API keys: ``apk_<prefix>_<secret>``; only a SHA-256 of the whole key is stored (a key is
  high-entropy, so a fast hash is enough and lets every request look it up by index).
- Access tokens: ``at1.<payload>.<hmac>``; payload is ``{"sub", "iat", "exp"}``, signed with
  HMAC-SHA256 under the appliance's token secret; expiry is checked on every use.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Scope

from appliance import b64url
from appliance.db.database import Database
from appliance.db.queries import users as users_q
from appliance.db.queries.users import User
from appliance.errors import Forbidden, Unauthorized
from appliance.token_secret import TokenSecret

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
TOKEN_PREFIX = "at1"
KEY_PREFIX = "apk"
_CACHE_MAX = 10_000
_TOUCH_SECONDS = 60.0
# scrypt (16 MiB, ~50 ms of CPU) for POST /auth/token runs at most this many at a time, so a
# burst of logins (anonymous callers) cannot take every core from the models and the writer.
PASSWORD_CHECKS_AT_ONCE = 2


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        # Still spend the time, so timing does not reveal which e-mails exist.
        hashlib.scrypt(password.encode(), salt=b"\0" * 16, dklen=32, **_SCRYPT)
        return False
    _, salt_hex, digest_hex = stored.split("$", 2)
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


@dataclass(frozen=True)
class NewKey:
    plaintext: str
    prefix: str
    key_hash: str


def new_api_key() -> NewKey:
    prefix = secrets.token_hex(4)
    plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(24)}"
    return NewKey(plaintext, prefix, hash_api_key(plaintext))


def hash_api_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def issue_token(secret: bytes, user_id: int, ttl_seconds: int, now: float | None = None) -> str:
    iat = int(now if now is not None else time.time())
    payload = b64url.encode(
        json.dumps({"sub": user_id, "iat": iat, "exp": iat + ttl_seconds}).encode()
    )
    signing_input = f"{TOKEN_PREFIX}.{payload}".encode()
    sig = b64url.encode(hmac.new(secret, signing_input, hashlib.sha256).digest())
    return f"{TOKEN_PREFIX}.{payload}.{sig}"


def verify_token(secret: bytes, token: str, now: float | None = None) -> int:
    """The user id of a valid, unexpired token. Raises Unauthorized otherwise."""
    try:
        prefix, payload, sig = token.split(".")
        if prefix != TOKEN_PREFIX:
            raise ValueError("prefix")
        expected = hmac.new(secret, f"{prefix}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, b64url.decode(sig)):
            raise ValueError("signature")
        claims = json.loads(b64url.decode(payload))
        user_id, exp = int(claims["sub"]), int(claims["exp"])
    except (ValueError, KeyError, TypeError) as exc:
        raise Unauthorized("invalid access token") from exc
    if exp <= (now if now is not None else time.time()):
        raise Unauthorized("access token expired")
    return user_id


def token_issued_at(token: str) -> int:
    """The ``iat`` of a token :func:`verify_token` accepted."""
    return int(json.loads(b64url.decode(token.split(".")[1]))["iat"])


def check_active(user: User, token: str | None = None) -> User:
    """Refuse a disabled user, and a token issued before the user's password changed or the
    user was disabled. Raises Unauthorized."""
    if user.disabled_at is not None:
        raise Unauthorized("this user is disabled")
    if token is not None and token_issued_at(token) < user.tokens_valid_after:
        raise Unauthorized("access token revoked (the password changed); sign in again")
    return user


def credential_from_headers(authorization: str | None, api_key: str | None) -> str | None:
    """The presented credential: ``Authorization: Bearer X`` or ``X-API-Key: X``."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Authorization header must be 'Bearer <api key or token>'")
        return value.strip()
    if api_key:
        return api_key.strip()
    return None


def current_user(request: Request) -> User:
    """The authenticated caller; 401 ``unauthorized`` when the request carried no credential."""
    user: User | None = getattr(request.state, "user", None)
    if user is None:
        raise Unauthorized("authentication required: send 'Authorization: Bearer <api key>'")
    return user


def current_admin(request: Request) -> User:
    user = current_user(request)
    if not user.is_admin:
        raise Forbidden("this endpoint is for administrators")
    return user


class Authenticator:
    """Resolves the credential of a request to a user, once, in the middleware."""

    def __init__(self, db: Database, secret: TokenSecret, *, cache_seconds: float = 0.0) -> None:
        self.db = db
        self._secret = secret
        self._touched: dict[int, float] = {}  # key id -> when last_used_at was last written
        self.touched_max = _CACHE_MAX
        self.password_slots = asyncio.Semaphore(PASSWORD_CHECKS_AT_ONCE)
        # key hash -> (expires at, user, key id). A database read per request was a large
        # share of a cheap billable request's cost; entries live ``cache_seconds`` and the
        # whole cache is dropped when this process revokes a key. Balances are never taken
        # from here: billing and /v1/me read them from the database.
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, User, int]] = {}

    @property
    def token_secret(self) -> bytes:
        """The current signing key (a rotation takes effect within a second)."""
        return self._secret.current()

    async def check_password(self, password: str, stored: str | None) -> bool:
        """:func:`verify_password` on a worker thread, a bounded number at a time."""
        async with self.password_slots:
            return await asyncio.to_thread(verify_password, password, stored)

    async def authenticate(self, scope: Scope, state: dict[str, Any]) -> None:
        """Sets ``state["user"]`` for a valid credential; raises Unauthorized for a bad one.

        No credential is not an error here: public routes need none, and protected handlers
        call :func:`current_user`.
        """
        headers = Headers(scope=scope)
        credential = credential_from_headers(headers.get("authorization"), headers.get("x-api-key"))
        if credential is None:
            return
        state["user"], state["credential_id"] = await self.resolve_credential(credential)

    async def resolve(self, credential: str) -> User:
        return (await self.resolve_credential(credential))[0]

    async def resolve_credential(self, credential: str) -> tuple[User, str]:
        """The user and a stable id of the credential (``key:<id>`` for an API key,
        ``user:<id>`` for an access token): what per-key rate limits are keyed on."""
        if credential.startswith(f"{TOKEN_PREFIX}."):
            user_id = verify_token(self.token_secret, credential)
            user = await self.db.read(users_q.by_id, user_id)
            if user is None:
                raise Unauthorized("the token's user no longer exists")
            return check_active(user, credential), f"user:{user.id}"
        key_hash = hash_api_key(credential)
        now = time.monotonic()
        cached = self._cache.get(key_hash)
        if cached is not None and cached[0] > now:
            user, key_id = cached[1], cached[2]
        else:
            found = await self.db.read(users_q.user_by_key_hash, key_hash)
            if found is None:
                raise Unauthorized("invalid or revoked API key")
            user, key_id = found
            if self.cache_seconds > 0:
                if len(self._cache) >= _CACHE_MAX:
                    self._cache.clear()
                self._cache[key_hash] = (now + self.cache_seconds, user, key_id)
        check_active(user)
        self._note_use(key_id)
        return user, f"key:{key_id}"

    def forget_keys(self) -> None:
        """Drop every cached key (after a revocation, so it takes effect at once)."""
        self._cache.clear()

    def _note_use(self, key_id: int) -> None:
        # last_used_at is advisory: write it at most once a minute per key, fire-and-forget,
        # so authentication never waits on the writer.
        # enqueue, not submit: nobody waits on the result, and the writer logs a failure
        # instead of leaving it on a Future no one reads.
        now = time.monotonic()
        if now - self._touched.get(key_id, -1e9) >= _TOUCH_SECONDS:
            if len(self._touched) >= self.touched_max:
                # One entry per key ever used: bounded like the key cache. Entries older than
                # a minute decide nothing; if all are recent, forgetting them only costs an
                # early last_used_at write.
                fresh = {k: t for k, t in self._touched.items() if now - t < _TOUCH_SECONDS}
                self._touched = fresh if len(fresh) < self.touched_max // 2 else {}
            self._touched[key_id] = now
            self.db.enqueue(users_q.touch_key, key_id)
