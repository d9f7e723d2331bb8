"""Facts and statements for one company, as the API and the CLI answer them."""

from __future__ import annotations

from typing import Any

from appliance.db.connection import Connection
from appliance.db.queries import facts as xq
from appliance.errors import UnknownTicker
from appliance.financials.statements import statement

__all__ = ["company", "financials", "find_facts"]


def company(conn: Connection, ticker: str) -> tuple[int, str | None]:
    """(CIK, name) of a ticker; UnknownTicker (404) when neither imported nor in the map."""
    found = xq.company_of(conn, ticker)
    if found is None:
        raise UnknownTicker(f"unknown ticker {ticker.upper()!r}: not in the symbol map")
    return found


def find_facts(
    conn: Connection,
    ticker: str,
    *,
    concept: str | None = None,
    q: str | None = None,
    fy: int | None = None,
    fp: str | None = None,
    form: str | None = None,
    cutoff: str | None = None,
    dimensional: bool = False,
    history: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """A company's facts, filtered; a ``concept`` with a prefix (``us-gaap:Revenues``) matches
    exactly, without one (``Revenues``) in any namespace; ``q`` words must all occur in the
    label or the concept name. Without ``history`` each fact comes once, as last reported on
    or before ``cutoff``."""
    cik, name = company(conn, ticker)
    concepts = [concept] if concept and ":" in concept else []
    names = [concept] if concept and ":" not in concept else []
    rows = xq.facts_for(
        conn,
        cik,
        names=names,
        concepts=concepts,
        words=(q or "").split()[:8],
        fy=fy,
        fp=fp,
        form=form,
        cutoff=cutoff,
        dimensional=dimensional,
        latest=not history,
        limit=limit,
        offset=offset,
    )
    return {
        "ticker": ticker.upper(),
        "cik": cik,
        "company": name,
        "as_of": cutoff,
        "facts": [r.public() for r in rows],
    }


def financials(
    conn: Connection,
    ticker: str,
    kind: str,
    period: str,
    cutoff: str | None,
    limit: int = 12,
) -> dict[str, Any]:
    cik, name = company(conn, ticker)
    return {
        "ticker": ticker.upper(),
        "cik": cik,
        "company": name,
        "statement": kind,
        "period": period,
        "as_of": cutoff,
        **statement(conn, cik, kind, period, cutoff, limit),
    }
