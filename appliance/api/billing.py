"""The caller's credits and usage; a cheap billable echo to check metering end to end."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance.api.billable import Call, billable
from appliance.api.responses import reply
from appliance.api.schemas import QuotaOut
from appliance.auth import current_user
from appliance.billing.usage import parse_moment
from appliance.context import AppContext, get_ctx
from appliance.db.connection import MAX_SQL_INT
from appliance.db.queries import billing as q
from appliance.db.queries import usage_summary
from appliance.errors import NotFound
from appliance.openapi import spec
from appliance.validation import parse_query


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
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": "ping"}]})
    text: str = Field(min_length=1, max_length=10_000)
    delay_ms: int = Field(
        0,
        ge=0,
        le=30_000,
        description="Answer this much later: a slow billable call, to see a hang-up refunded "
        "or a stop's grace period at work.",
    )


class EchoOut(BaseModel):
    text: str
    length: int


class UsageEvent(BaseModel):
    id: int
    user_id: int
    email: str
    endpoint: str
    request_id: str
    idempotency_key: str | None
    cost: int
    from_allowance: int
    quota_before: int
    quota_after: int
    status: Literal["charged", "refunded", "rejected", "no_answer", "not_indexed"] = Field(
        description="`no_answer` / `not_indexed`: a filings question that was not answered,"
        " recorded with cost 0 (not charged)."
    )
    status_code: int | None
    duration_ms: float | None
    created_at: str
    finished_at: str | None


class UsagePage(BaseModel):
    events: list[UsageEvent]
    next_cursor: int | None = Field(description="Pass as cursor for the next page.")


class DailyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"days": 30}]})
    days: int = Field(30, ge=1, le=366, description="This many UTC days, ending today.")


class DailyUsage(BaseModel):
    day: str
    endpoint: str
    credits: int = Field(description="Credits kept (refunded calls cost nothing).")
    calls: int = Field(description="Calls charged.")
    free_calls: int = Field(description="Calls refunded or refused (402).")


class DailyPage(BaseModel):
    since: str
    until: str
    days: list[DailyUsage]


@spec(
    "The caller's credits: allowance, purchased, total spendable",
    response=QuotaOut,
    tags=("billing",),
)
async def quota(request: Request) -> Response:
    user = current_user(request)
    view = await get_ctx(request).billing.view(user.id)
    return reply(QuotaOut, view.public())


@spec(
    "The caller's usage events, newest first (paginated by cursor, filtered by date)",
    query=UsageQuery,
    response=UsagePage,
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
    return reply(UsagePage, {"events": events, "next_cursor": next_cursor})


@spec(
    "The caller's credits and calls per UTC day and endpoint (the console's usage chart)",
    query=DailyQuery,
    response=DailyPage,
    tags=("billing",),
)
async def usage_daily(request: Request) -> Response:
    user = current_user(request)
    params = parse_query(request, DailyQuery)
    ctx = get_ctx(request)
    await ctx.billing.settled()
    today = datetime.now(UTC).date()
    since = today - timedelta(days=params.days - 1)
    until = today + timedelta(days=1)
    rows = await ctx.db.read(usage_summary.daily, user.id, _midnight(since), _midnight(until))
    return reply(DailyPage, {"since": since.isoformat(), "until": until.isoformat(), "days": rows})


def _midnight(day: date) -> str:
    return f"{day.isoformat()}T00:00:00.000Z"


def _echo_served(ctx: AppContext) -> None:
    if not ctx.settings.echo_endpoint:
        raise NotFound("no such endpoint")


@billable(
    "echo",
    "Echo a text back (billable; served when echo_endpoint is on)",
    body=EchoRequest,
    response=EchoOut,
    cost=lambda settings, _body: settings.cost_echo,
    cost_doc="cost_echo credits per call",
    ready=_echo_served,
    statuses=(200, 404),
    tags=("billing",),
)
async def echo(call: Call[EchoRequest]) -> dict[str, Any]:
    if call.input.delay_ms:
        await asyncio.sleep(call.input.delay_ms / 1000)
    return {"text": call.input.text, "length": len(call.input.text)}


routes = [
    Route("/v1/quota", quota, methods=["GET"]),
    Route("/v1/usage", usage, methods=["GET"]),
    Route("/v1/usage/daily", usage_daily, methods=["GET"]),
    Route("/v1/echo", echo, methods=["POST"]),
]
