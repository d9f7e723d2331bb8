"""``GET /v1/facts`` and ``GET /v1/financials/{ticker}``: inline-XBRL numbers, point in time.

Both are billable (``cost_facts`` credits each, through the same Billing seam as the Q&A);
input is validated first, so a 400 costs nothing, and an unknown ticker is refunded.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance.auth import current_user
from appliance.context import get_ctx
from appliance.financials.service import FactsQuery, FinancialsQuery, financials, find_facts
from appliance.openapi import spec
from appliance.validation import parse_query, validate

_STATUSES = (200, 400, 401, 404)


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
        return await ctx.db.read(find_facts, query)

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
        return await ctx.db.read(financials, query)

    return await ctx.billing.run(request, "financials", ctx.settings.cost_facts, work)


routes = [
    Route("/v1/facts", list_facts, methods=["GET"], name="facts"),
    Route("/v1/financials/{ticker}", company_financials, methods=["GET"], name="financials"),
]
