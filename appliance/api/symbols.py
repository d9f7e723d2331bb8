"""The symbol map: one ticker, or a prefix/name search."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance.api.responses import reply
from appliance.auth import current_user
from appliance.context import get_ctx
from appliance.db.queries import symbols as sq
from appliance.errors import NotFound
from appliance.openapi import spec
from appliance.validation import parse_query


class SymbolSearch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"q": "apple"}]})
    q: str = Field(min_length=1, max_length=100, description="ticker or company-name prefix")
    limit: int = Field(20, ge=1, le=100)


class SymbolOut(BaseModel):
    ticker: str
    cik: int
    name: str
    exchange: str | None
    vintage: str = Field(description="Date of the ticker file the symbol came from.")


class SymbolList(BaseModel):
    symbols: list[SymbolOut]


class SymbolDetail(SymbolOut):
    tickers: list[str] = Field(description="Every ticker of this CIK.")


@spec(
    "Search tickers and company names by prefix",
    query=SymbolSearch,
    response=SymbolList,
    tags=("edgar",),
)
async def search(request: Request) -> Response:
    current_user(request)
    query = parse_query(request, SymbolSearch)
    found = await get_ctx(request).db.read(sq.search_symbols, query.q, limit=query.limit)
    return reply(SymbolList, {"symbols": [s.public() for s in found]})


@spec(
    "One ticker: CIK, company, exchange, and the CIK's other tickers",
    response=SymbolDetail,
    statuses=(200, 404),
    tags=("edgar",),
)
async def one(request: Request) -> Response:
    current_user(request)
    ticker = str(request.path_params["ticker"]).upper()
    db = get_ctx(request).db
    found = await db.read(sq.symbol, ticker)
    if found is None:
        raise NotFound(f"unknown ticker {ticker}")
    siblings = await db.read(sq.tickers_for_cik, found.cik)
    return reply(SymbolDetail, {**found.public(), "tickers": [s.ticker for s in siblings]})


routes = [
    Route("/v1/symbols", search, methods=["GET"], name="search_symbols"),
    Route("/v1/symbols/{ticker}", one, methods=["GET"], name="symbol"),
]
