"""Imported filings: list with a point-in-time cutoff, one filing's sections, a section's text."""

from __future__ import annotations

import re
from datetime import date

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance.api.responses import reply
from appliance.auth import current_user
from appliance.context import get_ctx
from appliance.db.connection import MAX_SQL_INT
from appliance.db.queries import filings as fq
from appliance.edgar.vocabulary import TICKER_MAX, TICKER_PATTERN
from appliance.errors import NotFound
from appliance.openapi import spec
from appliance.validation import parse_query

_ACCESSION = re.compile(r"^\d{10}-\d{2}-\d{6}$")


class FilingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticker: str | None = Field(None, min_length=1, max_length=TICKER_MAX, pattern=TICKER_PATTERN)
    cik: int | None = Field(None, ge=1, le=9_999_999_999)
    form: str | None = Field(None, min_length=1, max_length=16, description="e.g. 10-K, 10-Q")
    cutoff: date | None = Field(None, description="hide filings filed after this day")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_SQL_INT)


class FilingOut(BaseModel):
    accession: str
    cik: int | None
    ticker: str | None
    company: str | None
    form: str
    filing_date: str
    acceptance_datetime: str | None
    period_of_report: str | None
    primary_document: str | None
    url: str | None = Field(description="The filing's address on sec.gov, when known.")
    char_count: int
    imported_at: str


class FilingList(BaseModel):
    filings: list[FilingOut]


class SectionOut(BaseModel):
    id: int
    item: str = Field(description="1, 1A, 7, part2_item1a, document, ...")
    title: str
    ordinal: int
    char_count: int


class FilingDetail(FilingOut):
    sections: list[SectionOut]


class SectionText(SectionOut):
    accession: str
    text: str


def _accession(request: Request) -> str:
    accession = str(request.path_params["accession"])
    if not _ACCESSION.match(accession):
        raise NotFound(f"no filing {accession!r}: accession numbers look like 0000320193-24-000123")
    return accession


@spec(
    "List imported filings (metadata only), newest first",
    query=FilingQuery,
    response=FilingList,
    tags=("edgar",),
)
async def list_filings(request: Request) -> Response:
    current_user(request)
    query = parse_query(request, FilingQuery)
    rows = await get_ctx(request).db.read(
        fq.list_filings,
        ticker=query.ticker,
        cik=query.cik,
        forms=[query.form.upper()] if query.form else [],
        cutoff=query.cutoff.isoformat() if query.cutoff else None,
        limit=query.limit,
        offset=query.offset,
    )
    return reply(FilingList, {"filings": [r.public() for r in rows]})


@spec(
    "A filing's metadata and its sections (item, title, size)",
    response=FilingDetail,
    statuses=(200, 404),
    tags=("edgar",),
)
async def one_filing(request: Request) -> Response:
    current_user(request)
    accession = _accession(request)
    db = get_ctx(request).db
    row = await db.read(fq.filing, accession)
    if row is None:
        raise NotFound(f"no imported filing {accession}")
    sections = await db.read(fq.filing_sections, accession)
    return reply(FilingDetail, {**row.public(), "sections": [s.public() for s in sections]})


@spec("One section's text", response=SectionText, statuses=(200, 404), tags=("edgar",))
async def one_section(request: Request) -> Response:
    current_user(request)
    accession = _accession(request)
    item = str(request.path_params["item"])
    found = await get_ctx(request).db.read(fq.section, accession, item)
    if found is None:
        raise NotFound(f"filing {accession} has no section {item!r}")
    return reply(SectionText, {"accession": accession, **found.info.public(), "text": found.text})


routes = [
    Route("/v1/filings", list_filings, methods=["GET"], name="list_filings"),
    Route("/v1/filings/{accession}", one_filing, methods=["GET"], name="filing"),
    Route("/v1/filings/{accession}/sections/{item}", one_section, methods=["GET"], name="section"),
]
