"""Administrators' actions on other users: grant credits, see their API keys."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance.api.responses import reply
from appliance.api.schemas import KeyList
from appliance.auth import current_admin
from appliance.billing.ledger import LedgerEntry, add_credits
from appliance.context import get_ctx
from appliance.db.connection import MAX_SQL_INT, Connection
from appliance.db.queries import users as q
from appliance.errors import NotFound
from appliance.openapi import spec
from appliance.validation import parse_json


class CreditGrant(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"credits": 100, "reference": "invoice-2025-06"}]},
    )
    credits: int = Field(
        ge=-1_000_000_000,
        le=1_000_000_000,
        description="Purchased credits to add (negative: take back, never below zero).",
    )
    reference: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="A grant with a reference already in the ledger changes nothing, so a"
        " retried request grants once (default: a new reference).",
    )

    @field_validator("credits")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("credits must not be 0")
        return value


class GrantOut(BaseModel):
    granted: bool = Field(description="False: this reference was already granted; no change.")
    user_id: int
    credits: int
    reference: str
    purchased: int | None = Field(description="The user's purchased credits after the grant.")
    ledger_id: int | None


def _user_id(request: Request) -> int:
    user_id = int(request.path_params["user_id"])
    if user_id > MAX_SQL_INT:
        raise NotFound(f"no user with id {user_id}")
    return user_id


def _grant(conn: Connection, user_id: int, credits: int, reference: str) -> LedgerEntry | None:
    if q.by_id(conn, user_id) is None:
        raise NotFound(f"no user with id {user_id}")
    return add_credits(conn, user_id, credits, "admin", reference)


@spec(
    "Grant (or take back) a user's purchased credits (admin); recorded in the credit ledger",
    body=CreditGrant,
    response=GrantOut,
    statuses=(200, 403, 404, 409),
    tags=("users",),
)
async def grant_credits(request: Request) -> Response:
    current_admin(request)
    user_id = _user_id(request)
    body = await parse_json(request, CreditGrant)
    reference = body.reference or f"api:{uuid.uuid4().hex}"
    entry = await get_ctx(request).db.write(_grant, user_id, body.credits, reference)
    return reply(
        GrantOut,
        {
            "granted": entry is not None,
            "user_id": user_id,
            "credits": body.credits,
            "reference": reference,
            "purchased": entry.balance_after if entry else None,
            "ledger_id": entry.id if entry else None,
        },
    )


@spec(
    "A user's API keys (admin; prefixes only, never the keys)",
    response=KeyList,
    statuses=(200, 403, 404),
    tags=("users",),
)
async def user_keys(request: Request) -> Response:
    current_admin(request)
    user_id = _user_id(request)
    db = get_ctx(request).db
    if await db.read(q.by_id, user_id) is None:
        raise NotFound(f"no user with id {user_id}")
    keys = await db.read(q.list_keys, user_id)
    return reply(KeyList, {"keys": [k.public() for k in keys]})


routes = [
    Route("/v1/users/{user_id:int}/credits", grant_credits, methods=["POST"]),
    Route("/v1/users/{user_id:int}/keys", user_keys, methods=["GET"]),
]
