"""The filings Q&A, honest about what it knows: resolve the companies, check the index is
ready for them, search, judge the answer, and say "not indexed" or "no answer" when that is
the truth.

``status`` of a reply: ``answered`` (charged), ``no_answer`` (nothing found, or nothing found
with confidence: no citations) or ``not_indexed`` (a company the question names has no
indexed filings: never another company's citations). Filings still on their way raise
``503 index_building`` (:mod:`appliance.rag.progress`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from appliance.db.connection import Connection
from appliance.db.queries import evidence as eq
from appliance.errors import UnknownTicker
from appliance.rag.answer import answer_text, citation
from appliance.rag.companies import Company, CompanyBook, CompanyDirectory
from appliance.rag.confidence import Features, Judge, refusal_rule
from appliance.rag.numeric import with_facts
from appliance.rag.progress import StateBook
from appliance.rag.retrieve import Retriever, SearchRequest, SearchResult

__all__ = ["ANSWERED", "NOT_INDEXED", "NO_ANSWER", "Reply", "answer_question"]

ANSWERED, NO_ANSWER, NOT_INDEXED = "answered", "no_answer", "not_indexed"
# The confidence of an answer read from tagged inline-XBRL facts (exact, cited where tagged).
FACTS_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Reply:
    status: str
    body: dict[str, Any]
    reason: str = ""  # why not answered: "not_indexed", "nothing_found", "low_confidence", a rule
    features: Features | None = None  # what the confidence was computed from (benchmarks)


@dataclass(frozen=True)
class Named:
    company: Company
    indexed: bool
    imported: bool  # has imported filings (indexed or not)

    def public(self) -> dict[str, Any]:
        return {**self.company.public(), "indexed": self.indexed}

    @property
    def label(self) -> str:
        c = self.company
        return f"{c.ticker} ({c.name})" if c.ticker else c.name


def answer_question(
    conn: Connection,
    retriever: Retriever,
    companies: CompanyBook,
    progress: StateBook,
    judge: Judge,
    req: SearchRequest,
    *,
    abstain: bool = True,
) -> Reply:
    """The reply to one question (on a reader thread). Raises UnknownTicker (404) for a
    ``ticker`` neither imported nor in the symbol map, IndexBuilding (503) while filings the
    question could use are being imported or indexed. ``abstain=False`` answers whenever
    anything is cited (the benchmark's baseline)."""
    directory = companies.get(conn)
    named = _named(conn, retriever, directory, req)
    keys = [n.company.cik for n in named]
    scope = keys or None
    state = progress.get(conn)
    building = state.building(scope, [n.company.ticker or "" for n in named], _who(named))
    if (building is not None and named) or (named and not any(n.indexed for n in named)):
        # Facts come with the import, not the indexing: an exact numeric answer needs no text.
        found = with_facts(conn, req, frozenset(keys), {"answer": None, "citations": []})
        if found["facts"]:
            return _reply(
                ANSWERED,
                named,
                req,
                answer=found["answer"],
                citations=found["citations"],
                facts=found["facts"],
                confidence=FACTS_CONFIDENCE,
            )
    if building is not None and named:
        raise building.error()
    if named and not any(n.indexed for n in named):
        message = _not_indexed(named)
        return _reply(NOT_INDEXED, named, req, message=message, reason=NOT_INDEXED)
    # Several companies named, some indexed ("Apple's fight with Qualcomm"): those only; the
    # reply's companies say which were not searched.
    keys = [n.company.cik for n in named if n.indexed]
    catalog = retriever.catalog
    years = [f.fiscal_year for f in catalog.filings.values() if scope is None or f.key in keys]
    refusal = refusal_rule(req.query, max(years) if years else None) if abstain else None
    if refusal is not None:
        message = _no_answer(named, refusal.message)
        return _reply(NO_ANSWER, named, req, message=message, reason=refusal.reason)
    search = dataclasses.replace(req, companies=frozenset(keys))
    result = retriever.search(conn, search)
    features = _features(conn, judge, req, named, result)
    confidence = judge.confidence(features) if result.hits else 0.0
    cites = [citation(h.citation, h.score) for h in result.hits]
    # A numeric question about one company that inline-XBRL facts answer exactly is answered
    # from them, whatever the passages' confidence (rag.numeric).
    found = with_facts(conn, search, frozenset(keys), {"answer": None, "citations": cites})
    if found["facts"]:
        return _reply(
            ANSWERED,
            named,
            req,
            answer=found["answer"],
            citations=found["citations"],
            facts=found["facts"],
            confidence=max(confidence, FACTS_CONFIDENCE),
            features=features,
        )
    if not result.hits or (abstain and confidence < judge.threshold):
        if building is not None:  # the filings still on their way might answer it
            raise building.error()
        message = _no_answer(named, _why_not(req, result, confidence))
        reason = "low_confidence" if result.hits else "nothing_found"
        return _reply(
            NO_ANSWER,
            named,
            req,
            message=message,
            confidence=confidence,
            reason=reason,
            features=features,
        )
    # Composed only for an answer: the sentences' meaning costs an embedder call.
    text = answer_text(req.query, result.hits, retriever.embedder, latest=result.plan.latest)
    return _reply(
        ANSWERED, named, req, answer=text, citations=cites, confidence=confidence, features=features
    )


def _named(
    conn: Connection, retriever: Retriever, directory: CompanyDirectory, req: SearchRequest
) -> list[Named]:
    indexed = retriever.index.companies()
    imported = {f.key for f in retriever.catalog.filings.values()}
    if req.ticker:
        key = retriever.resolve_ticker(conn, req.ticker)
        company = directory.by_ticker(req.ticker)
        if key is None and company is None:
            raise UnknownTicker(f"unknown ticker {req.ticker!r}: not in the symbol map")
        if company is None or (key is not None and key != company.cik):
            info = next((f for f in retriever.catalog.filings.values() if f.key == key), None)
            name = info.company if info and info.company else req.ticker
            company = Company(key if key is not None else -1, req.ticker, name, 1_000_000)
        found = [company]
    else:
        found = [m.company for m in directory.resolve(req.query)]
    return [Named(c, c.cik in indexed, c.cik in imported) for c in found]


def _features(
    conn: Connection, judge: Judge, req: SearchRequest, named: list[Named], result: SearchResult
) -> Features:
    if not result.hits:
        return Features(named=float(bool(named)))
    context = " ".join(f"{n.company.name} {n.company.ticker or ''}" for n in named)
    cache: dict[str, int] = {}

    def doc_freq(term: str) -> int:
        if term not in cache:
            cache[term] = eq.doc_freq(conn, term)
        return cache[term]

    top = result.hits[0]
    return judge.features(
        req.query,
        context,
        [f"{h.citation.header}\n{h.citation.text}" for h in result.hits],
        [h.cosine for h in result.hits],
        agree=top.dense_rank is not None and top.keyword_rank is not None,
        named=bool(named),
        doc_freq=doc_freq,
        corpus=max(eq.passage_count(conn), 1),
    )


def _reply(
    status: str,
    named: list[Named],
    req: SearchRequest,
    *,
    answer: str | None = None,
    citations: list[dict[str, Any]] | None = None,
    message: str | None = None,
    confidence: float = 0.0,
    reason: str = "",
    features: Features | None = None,
    facts: list[dict[str, Any]] | None = None,
) -> Reply:
    return Reply(
        status,
        {
            "status": status,
            "answer": answer,
            "message": message,
            "citations": citations or [],
            "companies": [n.public() for n in named],
            "confidence": round(confidence, 4),
            "as_of": req.cutoff,
            "facts": facts or [],
        },
        reason,
        features,
    )


def _who(named: list[Named]) -> str:
    return ", ".join(n.label for n in named) if named else "the filings"


def _not_indexed(missing: list[Named]) -> str:
    parts = []
    for n in missing:
        ticker = n.company.ticker or "TICKER"
        if n.imported:
            parts.append(
                f"{n.label} has imported filings that are not indexed yet: run `appliance index"
                f" {ticker}` or POST /ops/index?ticker={ticker}"
            )
        else:
            parts.append(
                f"{n.label} has no imported filings: `appliance filings import` them or"
                f" POST /ops/index?ticker={ticker}"
            )
    return "; ".join(parts) + "."


def _no_answer(named: list[Named], why: str) -> str:
    where = f"the indexed filings of {_who(named)}" if named else "the indexed filings"
    return f"No answer from {where}: {why}."


def _why_not(req: SearchRequest, result: SearchResult, confidence: float) -> str:
    if not result.hits:
        when = f" dated on or before {req.cutoff}" if req.cutoff else ""
        return f"no filing{when} matches the question, so there is nothing to cite"
    return (
        f"the best passage found does not answer it with confidence ({confidence:.2f});"
        " name the company, the period or the topic more precisely"
    )
