"""``GET /v1/facts`` and ``GET /v1/financials/{ticker}``: inline-XBRL numbers, point in time.

Both are billable (``cost_facts`` credits each, through the same Billing seam as the Q&A);
input is validated first, so a 400 costs nothing, and an unknown ticker is refunded.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance.auth import current_user
from appliance.context import get_ctx
from appliance.db.connection import MAX_SQL_INT
from appliance.edgar.vocabulary import TICKER_PATTERN
from appliance.financials.service import financials, find_facts
from appliance.openapi import spec
from appliance.validation import parse_query, validate

_STATUSES = (200, 400, 401, 404)


class FactsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticker: str = Field(pattern=TICKER_PATTERN, description="e.g. NVDA")
    concept: str | None = Field(
        None,
        max_length=200,
        pattern=r"^(?:[A-Za-z][\w\-]*:)?[A-Za-z_][\w.\-]*$",
        description="us-gaap:Revenues, or Revenues in any namespace",
    )
    q: str | None = Field(None, min_length=1, max_length=100, description="words of the label")
    fy: int | None = Field(None, ge=1900, le=2200, description="fiscal year the period falls in")
    fp: Literal["FY", "Q1", "Q2", "Q3", "Q4", "6M", "9M"] | None = None
    form: str | None = Field(None, min_length=1, max_length=16, description="10-K, 10-Q, ...")
    cutoff: date | None = Field(None, description="only filings dated on or before this day")
    dimensional: bool = Field(False, description="include facts with dimensions (segments)")
    history: bool = Field(False, description="every filing's report, not only the latest")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_SQL_INT)


class FinancialsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticker: str = Field(pattern=TICKER_PATTERN)
    statement: Literal["income", "balance", "cashflow"] = "income"
    period: Literal["annual", "quarterly"] = "annual"
    cutoff: date | None = Field(None, description="only filings dated on or before this day")
    limit: int = Field(12, ge=1, le=60, description="newest periods shown")


@spec(
    "Inline-XBRL facts of a company by concept, label and period (billable: cost_facts)",
    query=FactsQuery,
    statuses=_STATUSES,
    tags=("financials",),
    billable=True,
)
async def list_facts(request: Request) -> Response:
    current_user(request)
    query = parse_query(request, FactsQuery)
    ctx = get_ctx(request)

    async def work() -> dict[str, object]:
        return await ctx.db.read(
            find_facts,
            query.ticker,
            concept=query.concept,
            q=query.q,
            fy=query.fy,
            fp=query.fp,
            form=query.form.upper() if query.form else None,
            cutoff=query.cutoff.isoformat() if query.cutoff else None,
            dimensional=query.dimensional,
            history=query.history,
            limit=query.limit,
            offset=query.offset,
        )

    return await ctx.billing.run(request, "facts", ctx.settings.cost_facts, work)


@spec(
    "Standard statement lines over time, as reported (billable: cost_facts)",
    query=FinancialsQuery,
    statuses=_STATUSES,
    tags=("financials",),
    billable=True,
)
async def company_financials(request: Request) -> Response:
    current_user(request)
    query = validate(
        FinancialsQuery, {**request.query_params, "ticker": request.path_params["ticker"]}
    )
    ctx = get_ctx(request)

    async def work() -> dict[str, object]:
        return await ctx.db.read(
            financials,
            query.ticker,
            query.statement,
            query.period,
            query.cutoff.isoformat() if query.cutoff else None,
            query.limit,
        )

    return await ctx.billing.run(request, "financials", ctx.settings.cost_facts, work)


routes = [
    Route("/v1/facts", list_facts, methods=["GET"], name="facts"),
    Route("/v1/financials/{ticker}", company_financials, methods=["GET"], name="financials"),
]
