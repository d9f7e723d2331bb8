"""Facts and statements for one company, as the API and the CLI answer them."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from appliance.db.connection import MAX_SQL_INT, Connection
from appliance.db.queries import facts as xq
from appliance.edgar.vocabulary import TICKER_PATTERN
from appliance.errors import UnknownTicker
from appliance.financials.statements import statement

__all__ = ["FactsQuery", "FinancialsQuery", "company", "financials", "find_facts"]

FiscalPeriod = Literal["FY", "Q1", "Q2", "Q3", "Q4", "6M", "9M"]


class FactsQuery(BaseModel):
    """What ``GET /v1/facts`` and ``appliance facts`` take."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"ticker": "AAPL", "concept": "Assets"}]}
    )
    ticker: str = Field(pattern=TICKER_PATTERN, description="e.g. NVDA")
    concept: str | None = Field(
        None,
        max_length=200,
        pattern=r"^(?:[A-Za-z][\w\-]*:)?[A-Za-z_][\w.\-]*$",
        description="us-gaap:Revenues, or Revenues in any namespace",
    )
    q: str | None = Field(None, min_length=1, max_length=100, description="words of the label")
    fy: int | None = Field(None, ge=1900, le=2200, description="fiscal year the period falls in")
    fp: FiscalPeriod | None = None
    form: str | None = Field(None, min_length=1, max_length=16, description="10-K, 10-Q, ...")
    cutoff: date | None = Field(None, description="only filings dated on or before this day")
    dimensional: bool = Field(False, description="include facts with dimensions (segments)")
    history: bool = Field(False, description="every filing's report, not only the latest")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_SQL_INT)


class FinancialsQuery(BaseModel):
    """What ``GET /v1/financials/{ticker}`` and ``appliance financials`` take."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"statement": "income"}]}
    )
    ticker: str = Field(pattern=TICKER_PATTERN)
    statement: Literal["income", "balance", "cashflow"] = "income"
    period: Literal["annual", "quarterly"] = "annual"
    cutoff: date | None = Field(None, description="only filings dated on or before this day")
    limit: int = Field(12, ge=1, le=60, description="newest periods shown")


def company(conn: Connection, ticker: str) -> tuple[int, str | None]:
    """(CIK, name) of a ticker; UnknownTicker (404) when neither imported nor in the map."""
    found = xq.company_of(conn, ticker)
    if found is None:
        raise UnknownTicker(f"unknown ticker {ticker.upper()!r}: not in the symbol map")
    return found


def find_facts(conn: Connection, query: FactsQuery) -> dict[str, Any]:
    """A company's facts, filtered; a ``concept`` with a prefix (``us-gaap:Revenues``) matches
    exactly, without one (``Revenues``) in any namespace; ``q`` words must all occur in the
    label or the concept name. Without ``history`` each fact comes once, as last reported on
    or before ``cutoff``."""
    cik, name = company(conn, query.ticker)
    concept = query.concept
    cutoff = query.cutoff.isoformat() if query.cutoff else None
    rows = xq.facts_for(
        conn,
        cik,
        names=[concept] if concept and ":" not in concept else [],
        concepts=[concept] if concept and ":" in concept else [],
        words=(query.q or "").split()[:8],
        fy=query.fy,
        fp=query.fp,
        form=query.form.upper() if query.form else None,
        cutoff=cutoff,
        dimensional=query.dimensional,
        latest=not query.history,
        limit=query.limit,
        offset=query.offset,
    )
    return {
        "ticker": query.ticker.upper(),
        "cik": cik,
        "company": name,
        "as_of": cutoff,
        "facts": [r.public() for r in rows],
    }


def financials(conn: Connection, query: FinancialsQuery) -> dict[str, Any]:
    cik, name = company(conn, query.ticker)
    cutoff = query.cutoff.isoformat() if query.cutoff else None
    return {
        "ticker": query.ticker.upper(),
        "cik": cik,
        "company": name,
        "statement": query.statement,
        "period": query.period,
        "as_of": cutoff,
        **statement(conn, cik, query.statement, query.period, cutoff, query.limit),
    }
