"""``GET /v1/facts`` and ``GET /v1/financials/{ticker}``: inline-XBRL numbers, point in time.

Both are billable (``cost_facts`` credits each); input is validated first, so a 400 costs
nothing, and an unknown ticker is refunded.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from starlette.routing import Route

from appliance.api.billable import Call, billable
from appliance.financials.service import FactsQuery, FinancialsQuery, financials, find_facts
from appliance.settings import Settings


class FactPeriod(BaseModel):
    """A duration (start, end) or an instant."""

    start: str | None = None
    end: str | None = None
    instant: str | None = None


class Fact(BaseModel):
    concept: str
    label: str
    value: str = Field(description="Exact, as reported (scaled, signed), as a decimal string.")
    unit: str | None
    decimals: str | None
    period: FactPeriod
    dimensions: dict[str, Any]
    fy: int | None
    fp: str | None
    form: str
    accession: str
    filing_date: str
    section: str | None


class FactsOut(BaseModel):
    ticker: str
    cik: int
    company: str | None
    as_of: str | None
    facts: list[Fact]


class DerivedFrom(BaseModel):
    fy: int
    fp: str
    value: str
    accession: str | None = None


class StatementValue(BaseModel):
    value: str
    unit: str
    concept: str
    derived: bool = Field(description="Computed (e.g. Q4 = year - Q1..Q3), not reported.")
    accession: str | None = None
    form: str | None = None
    filing_date: str | None = None
    section: str | None = None
    derived_from: list[DerivedFrom] | None = None


class StatementLine(BaseModel):
    line: str
    label: str
    values: list[StatementValue | None] = Field(description="One per period, newest first.")


class StatementPeriod(BaseModel):
    fy: int
    fp: str
    start: str | None
    end: str


class FinancialsOut(BaseModel):
    ticker: str
    cik: int
    company: str | None
    statement: str
    period: str
    as_of: str | None
    periods: list[StatementPeriod]
    lines: list[StatementLine]


def _cost(settings: Settings, _query: object) -> int:
    return settings.cost_facts


@billable(
    "facts",
    "Inline-XBRL facts of a company by concept, label and period (billable)",
    query=FactsQuery,
    response=FactsOut,
    cost=_cost,
    cost_doc="cost_facts credits per call",
    statuses=(200, 404),
    tags=("financials",),
)
async def list_facts(call: Call[FactsQuery]) -> dict[str, Any]:
    return await call.ctx.db.read(find_facts, call.input)


@billable(
    "financials",
    "Standard statement lines over time, as reported (billable)",
    query=FinancialsQuery,
    response=FinancialsOut,
    cost=_cost,
    cost_doc="cost_facts credits per call",
    statuses=(200, 404),
    tags=("financials",),
)
async def company_financials(call: Call[FinancialsQuery]) -> dict[str, Any]:
    return await call.ctx.db.read(financials, call.input)


routes = [
    Route("/v1/facts", list_facts, methods=["GET"], name="facts"),
    Route("/v1/financials/{ticker}", company_financials, methods=["GET"], name="financials"),
]
