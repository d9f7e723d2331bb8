"""``POST /v1/qa/filings``: questions about companies' filings, answered with citations."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.routing import Route

from appliance.api.billable import Call, billable
from appliance.context import AppContext
from appliance.edgar.vocabulary import (
    TICKER_MAX,
    TICKER_PATTERN,
    QueryForm,
    is_section_code,
    section_code,
)
from appliance.rag.answer import answer
from appliance.rag.retrieve import SearchRequest
from appliance.rag.service import rag_service


class QARequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"query": "How many employees does Apple have?", "ticker": "AAPL"}]
        },
    )
    query: str = Field(min_length=1, max_length=2000, description="The question.")
    ticker: str | None = Field(None, min_length=1, max_length=TICKER_MAX, pattern=TICKER_PATTERN)
    cutoff: str | None = Field(
        None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="Point in time (YYYY-MM-DD): only filings dated on or before it are cited.",
    )
    forms: list[QueryForm] | None = Field(None, min_length=1, max_length=10)
    sections: list[str] | None = Field(None, min_length=1, max_length=40)
    top_k: int = Field(5, ge=1, le=20)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query must not be blank")
        return value.strip()

    @field_validator("cutoff")
    @classmethod
    def _real_date(cls, value: str | None) -> str | None:
        if value is not None:
            date.fromisoformat(value)  # ValueError for 2024-02-30
        return value

    @field_validator("sections")
    @classmethod
    def _section_codes(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for code in value:
                if not is_section_code(code):
                    raise ValueError(f"not a section code: {code!r}")
        return value

    def search_request(self) -> SearchRequest:
        return SearchRequest(
            query=self.query,
            ticker=self.ticker.upper() if self.ticker else None,
            cutoff=self.cutoff,
            forms=tuple(self.forms) if self.forms else None,
            sections=tuple(section_code(s) for s in self.sections) if self.sections else None,
            top_k=self.top_k,
        )


class Citation(BaseModel):
    ticker: str | None
    cik: int | None
    company: str | None
    form: str
    filing_date: str
    accession: str
    section: str = Field(description="The Item: 1, 1A, 7, part1_item2, ...")
    section_title: str
    text: str = Field(description="The cited passage, quoted.")
    url: str | None = Field(description="The filing on sec.gov.")
    score: float
    fact: str | None = Field(None, description="The XBRL concept this passage is tagged with.")


class FactPeriod(BaseModel):
    start: str | None = None
    end: str | None = None
    instant: str | None = None


class DerivedFrom(BaseModel):
    fy: int
    fp: str
    value: str


class AnswerFact(BaseModel):
    """A reported (or computed) figure the answer states."""

    role: str = Field(description="value, or prior (the figure a change is computed from)")
    concept: str
    label: str
    value: str
    unit: str
    period: FactPeriod
    fy: int
    fp: str
    derived: bool
    accession: str | None = None
    form: str | None = None
    filing_date: str | None = None
    section: str | None = None
    change_percent: str | None = None
    derived_from: list[DerivedFrom] | None = None


class Answer(BaseModel):
    answer: str = Field(description="Sentences quoted from the citations, each marked [n].")
    citations: list[Citation]
    as_of: str | None = Field(description="The cutoff the answer respects.")
    facts: list[AnswerFact] = Field(
        default_factory=list, description="Figures from inline XBRL, for a numeric question."
    )


async def ask(ctx: AppContext, body: QARequest) -> dict[str, Any]:
    """Embedding and search run on a long-read thread, never on the event loop."""
    service = rag_service(ctx)
    result: dict[str, Any] = await ctx.db.read_long(
        answer, service.retriever, body.search_request()
    )
    return result


@billable(
    "qa",
    "Answer a question from filings, with citations (billable: cost_qa credits)",
    body=QARequest,
    response=Answer,
    cost=lambda settings, _body: settings.cost_qa,
    cost_doc="cost_qa credits per question",
    ready=rag_service,  # 503 while the index loads, before anything is spent
    statuses=(200, 404, 503),
    tags=("filings",),
)
async def qa_filings(call: Call[QARequest]) -> dict[str, Any]:
    return await ask(call.ctx, call.input)


routes = [Route("/v1/qa/filings", qa_filings, methods=["POST"])]
