"""Tokens, API keys, the caller, and (admin) users."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance import accounts
from appliance.accounts import EMAIL_PATTERN
from appliance.api import signin
from appliance.api.responses import reply
from appliance.api.schemas import KeyCreated, KeyList, KeyOut, UserOut, UserWithKey
from appliance.auth import current_admin, current_user, issue_token
from appliance.billing.quota import user_json
from appliance.context import get_ctx
from appliance.db.connection import MAX_SQL_INT
from appliance.db.queries import users as q
from appliance.errors import NotFound
from appliance.openapi import spec
from appliance.validation import parse_json, parse_query, require_json


class TokenRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "admin@localhost", "password": "secret"}]},
    )
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "laptop"}]})
    name: str | None = Field(None, max_length=100)


class UserCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "analyst@example.com", "credits": 100}]},
    )
    email: str = Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN)
    password: str | None = Field(None, min_length=8, max_length=1024)
    credits: int = Field(
        0,
        ge=0,
        le=1_000_000_000,
        description="Purchased credits to start with, granted through the credit ledger like"
        " any grant (the monthly allowance comes on top).",
    )
    is_admin: bool = False


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds.")


class UserList(BaseModel):
    users: list[UserOut]


class Page(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_SQL_INT)


@spec(
    "Exchange e-mail and password for a bearer access token (Content-Type: application/json)",
    body=TokenRequest,
    response=TokenOut,
    auth=False,
    statuses=(200, 401, 415, 429),
    tags=("auth",),
)
async def token(request: Request) -> Response:
    ctx = get_ctx(request)
    require_json(request)
    body = await parse_json(request, TokenRequest)
    user = await signin.by_password(ctx, request, body.email, body.password)
    ttl = ctx.settings.token_ttl_seconds
    return reply(
        TokenOut,
        {
            # Never dated before the user's last password change or disable (whole seconds):
            # a sign-in in that same second gets a token that works.
            "access_token": issue_token(
                ctx.auth.token_secret,
                user.id,
                ttl,
                max(time.time(), user.tokens_valid_after),
            ),
            "token_type": "bearer",
            "expires_in": ttl,
        },
    )


@spec("The caller", response=UserOut, tags=("auth",))
async def me(request: Request) -> Response:
    # Re-read: the request's user may come from the auth cache, and balances never do.
    ctx = get_ctx(request)
    user = await ctx.db.read(q.by_id, current_user(request).id)
    if user is None:
        raise NotFound("your user no longer exists")
    return reply(UserOut, user_json(user, ctx.settings.free_monthly_credits))


@spec(
    "Create an API key for the caller (the key is shown once)",
    body=KeyCreate,
    response=KeyCreated,
    statuses=(201, 409),
    tags=("auth",),
)
async def create_key(request: Request) -> Response:
    user = current_user(request)
    body = await parse_json(request, KeyCreate)
    ctx = get_ctx(request)
    plaintext, key = await ctx.db.write(
        accounts.create_key, user.id, body.name, limit=ctx.settings.max_api_keys_per_user
    )
    return reply(KeyCreated, {**key.public(), "api_key": plaintext}, status_code=201)


@spec("The caller's API keys", response=KeyList, tags=("auth",))
async def list_keys(request: Request) -> Response:
    user = current_user(request)
    keys = await get_ctx(request).db.read(q.list_keys, user.id)
    return reply(KeyList, {"keys": [k.public() for k in keys]})


@spec(
    "Revoke one of the caller's API keys (an admin: anyone's)",
    response=KeyOut,
    statuses=(200, 404, 409),
    tags=("auth",),
)
async def revoke_key(request: Request) -> Response:
    user = current_user(request)
    key_id = request.path_params["key_id"]
    if key_id > MAX_SQL_INT:
        raise NotFound(f"no API key with id {key_id}")
    owner = None if user.is_admin else user.id
    using = getattr(request.state, "credential_id", None) == f"key:{key_id}"
    key = await get_ctx(request).db.write(accounts.revoke_key, key_id, owner, in_use=using)
    get_ctx(request).auth.forget_keys()
    return reply(KeyOut, key.public())


@spec(
    "Create a user with a first API key (admin)",
    body=UserCreate,
    response=UserWithKey,
    statuses=(201, 403, 409),
    tags=("users",),
)
async def create_user(request: Request) -> Response:
    current_admin(request)
    body = await parse_json(request, UserCreate)
    ctx = get_ctx(request)
    created = await ctx.db.write(
        accounts.create_user,
        body.email,
        body.password,
        is_admin=body.is_admin,
        credits=body.credits,
    )
    shown = user_json(created.user, ctx.settings.free_monthly_credits)
    return reply(UserWithKey, {**shown, "api_key": created.api_key}, status_code=201)


@spec("List users (admin)", query=Page, response=UserList, statuses=(200, 403), tags=("users",))
async def list_users(request: Request) -> Response:
    current_admin(request)
    page = parse_query(request, Page)
    ctx = get_ctx(request)
    users = await ctx.db.read(q.list_users, limit=page.limit, offset=page.offset)
    free = ctx.settings.free_monthly_credits
    return reply(UserList, {"users": [user_json(u, free) for u in users]})


routes = [
    Route("/auth/token", token, methods=["POST"]),
    Route("/v1/me", me, methods=["GET"]),
    Route("/v1/keys", create_key, methods=["POST"], name="create_key"),
    Route("/v1/keys", list_keys, methods=["GET"], name="list_keys"),
    Route("/v1/keys/{key_id:int}", revoke_key, methods=["DELETE"]),
    Route("/v1/users", create_user, methods=["POST"], name="create_user"),
    Route("/v1/users", list_users, methods=["GET"], name="list_users"),
]
