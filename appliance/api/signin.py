"""Signing in with e-mail and password: the one path ``POST /auth/token`` and the console's
``POST /auth/session`` share, so both are throttled alike (429 ``login_throttled``, see
:mod:`appliance.logins`) and both refuse a disabled user."""

from __future__ import annotations

from starlette.requests import Request

from appliance.auth import check_active
from appliance.context import AppContext
from appliance.db.queries import users as q
from appliance.db.queries.users import User
from appliance.errors import InvalidCredentials


async def by_password(ctx: AppContext, request: Request, email: str, password: str) -> User:
    """The user these credentials name. Raises LoginThrottled (the account or the client's
    address is locked: no password is checked), InvalidCredentials (counted as a failure) or
    Unauthorized (the user is disabled)."""
    address = request.client.host if request.client else None
    await ctx.logins.check(email, address)
    found = await ctx.db.read(q.password_hash, email)
    # verify_password runs scrypt even for unknown users (constant-ish time); off the loop.
    stored = found[1] if found else None
    ok = await ctx.auth.check_password(password, stored)
    if found is None or not ok:
        await ctx.logins.failed(email, address)
        raise InvalidCredentials("wrong e-mail or password")
    check_active(found[0])
    await ctx.logins.succeeded(email)
    return found[0]
