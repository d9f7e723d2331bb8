"""``POST /v1/qa/filings``: questions about companies' filings, answered with citations."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.routing import Route

from appliance.api.billable import Call, Unbilled, billable
from appliance.context import AppContext
from appliance.edgar.vocabulary import (
    TICKER_MAX,
    TICKER_PATTERN,
    QueryForm,
    is_section_code,
    section_code,
)
from appliance.rag.qa import ANSWERED, Reply
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


class NamedCompany(BaseModel):
    """A company the question named (or the ``ticker`` filter), resolved in the ticker map."""

    ticker: str | None
    cik: int
    company: str
    indexed: bool = Field(description="Whether it has indexed filings to answer from.")


class Answer(BaseModel):
    status: Literal["answered", "no_answer", "not_indexed"] = Field(
        description="Only `answered` is charged; `no_answer` and `not_indexed` cost nothing"
        " (their usage events record the status with cost 0)."
    )
    answer: str | None = Field(
        description="Sentences quoted from the citations, each marked [n]; null unless `answered`."
    )
    message: str | None = Field(
        description="When not answered: what was searched, and what to do (e.g. import or"
        " index a company's filings)."
    )
    citations: list[Citation] = Field(description="Empty unless `answered`.")
    companies: list[NamedCompany] = Field(
        description="The companies the question resolved to (empty when it names none)."
    )
    confidence: float = Field(
        ge=0,
        le=1,
        description="How sure the service is that the top citation answers the question"
        " (calibrated on a blind dev set; see the README).",
    )
    as_of: str | None = Field(description="The cutoff the answer respects.")
    facts: list[AnswerFact] = Field(
        default_factory=list, description="Figures from inline XBRL, for a numeric question."
    )


async def ask(ctx: AppContext, body: QARequest) -> dict[str, Any] | Unbilled:
    """Embedding and search run on a long-read thread, never on the event loop. Only an
    answer is billed: "no answer" and "not indexed" come back free (their usage events say
    so)."""
    service = rag_service(ctx)
    reply: Reply = await ctx.db.read_long(service.ask, body.search_request())
    return reply.body if reply.status == ANSWERED else Unbilled(reply.body, reply.status)


@billable(
    "qa",
    "Answer a question from filings, with citations (billable)",
    body=QARequest,
    response=Answer,
    cost=lambda settings, _body: settings.cost_qa,
    cost_doc="cost_qa credits per question",
    ready=rag_service,  # 503 while the index loads, before anything is spent
    statuses=(200, 404, 503),
    tags=("filings",),
    description="`status` says whether the question was answered. Only `answered` is"
    " charged: `no_answer` (nothing in the index answers it with confidence) and"
    " `not_indexed` (a company it names has no indexed filings) cost nothing and carry a"
    " `message` saying what to do. While filings the question could use are still being"
    " imported or indexed it answers 503 `index_building` with `Retry-After` and the"
    " progress in `details`, uncharged.",
)
async def qa_filings(call: Call[QARequest]) -> dict[str, Any] | Unbilled:
    return await ask(call.ctx, call.input)


routes = [Route("/v1/qa/filings", qa_filings, methods=["POST"])]
