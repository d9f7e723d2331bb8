"""The caller's credits and usage; a cheap billable echo to check metering end to end."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance.api.responses import JSON
from appliance.auth import current_user
from appliance.billing.usage import parse_moment
from appliance.context import get_ctx
from appliance.db.connection import MAX_SQL_INT
from appliance.db.queries import billing as q
from appliance.errors import NotFound
from appliance.openapi import spec
from appliance.validation import parse_json, parse_query


class UsageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: str | None = Field(None, description="From this date or datetime (UTC), inclusive.")
    until: str | None = Field(None, description="Before this date or datetime (UTC).")
    limit: int = Field(100, ge=1, le=1000)
    cursor: int | None = Field(
        None, ge=1, le=MAX_SQL_INT, description="next_cursor of the previous page."
    )

    @field_validator("since", "until")
    @classmethod
    def _moment(cls, value: str | None) -> str | None:
        return None if value is None else parse_moment(value)


class EchoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=10_000)
    delay_ms: int = Field(
        0,
        ge=0,
        le=30_000,
        description="Answer this much later: a slow billable call, to see a hang-up refunded "
        "or a stop's grace period at work.",
    )


@spec("The caller's credits: allowance, purchased, total spendable", tags=("billing",))
async def quota(request: Request) -> Response:
    user = current_user(request)
    view = await get_ctx(request).billing.view(user.id)
    return JSON(view.public())


@spec(
    "The caller's usage events, newest first (paginated by cursor, filtered by date)",
    query=UsageQuery,
    tags=("billing",),
)
async def usage(request: Request) -> Response:
    user = current_user(request)
    page = parse_query(request, UsageQuery)
    ctx = get_ctx(request)
    await ctx.billing.settled()
    events = await ctx.db.read(
        q.usage_for_user,
        user.id,
        since=page.since,
        until=page.until,
        before_id=page.cursor,
        limit=page.limit,
    )
    next_cursor = events[-1]["id"] if len(events) == page.limit else None
    return JSON({"events": events, "next_cursor": next_cursor})


@spec(
    "Echo a text back (billable, cost_echo credits; served when echo_endpoint is on)",
    body=EchoRequest,
    statuses=(200, 404),
    tags=("billing",),
    billable=True,
)
async def echo(request: Request) -> Response:
    ctx = get_ctx(request)
    if not ctx.settings.echo_endpoint:
        raise NotFound("no such endpoint")
    current_user(request)
    body = await parse_json(request, EchoRequest)

    async def work() -> dict[str, Any]:
        if body.delay_ms:
            await asyncio.sleep(body.delay_ms / 1000)
        return {"text": body.text, "length": len(body.text)}

    return await ctx.billing.run(request, "echo", ctx.settings.cost_echo, work)


routes = [
    Route("/v1/quota", quota, methods=["GET"]),
    Route("/v1/usage", usage, methods=["GET"]),
    Route("/v1/echo", echo, methods=["POST"]),
]
