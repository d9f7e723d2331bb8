"""``POST /v1/qa/filings``: questions about companies' filings, answered with citations."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance.auth import current_user
from appliance.context import AppContext, get_ctx
from appliance.edgar.vocabulary import (
    TICKER_MAX,
    TICKER_PATTERN,
    QueryForm,
    is_section_code,
    section_code,
)
from appliance.openapi import spec
from appliance.rag.answer import answer
from appliance.rag.retrieve import SearchRequest
from appliance.rag.service import rag_service
from appliance.validation import parse_json


class QARequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
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


async def ask(ctx: AppContext, body: QARequest) -> dict[str, Any]:
    """Embedding and search run on a long-read thread, never on the event loop."""
    service = rag_service(ctx)
    result: dict[str, Any] = await ctx.db.read_long(
        answer, service.retriever, body.search_request()
    )
    return result


@spec(
    "Answer a question from filings, with citations (billable: cost_qa credits)",
    body=QARequest,
    statuses=(200, 400, 401, 402, 404, 409, 422, 429, 503),
    tags=("filings",),
)
async def qa_filings(request: Request) -> Response:
    current_user(request)
    body = await parse_json(request, QARequest)  # a 400 costs nothing
    ctx = get_ctx(request)
    return await ctx.billing.run(request, "qa", ctx.settings.cost_qa, lambda: ask(ctx, body))


routes = [Route("/v1/qa/filings", qa_filings, methods=["POST"])]
