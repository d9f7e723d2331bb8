"""Retrieval: dense + keyword candidates, fused by reciprocal rank, gently diversified.

1. The question is analysed (:mod:`appliance.rag.query`): a named company or the ``ticker``
   restricts the search; years, "latest", the form and the topic become boosts.
2. Dense: the question's vector against the in-memory index; keyword: FTS5 BM25 over chunk
   header + text. Both apply every filter *inside* the search (company, cutoff, forms,
   sections), so ``top_k`` results come back whenever that many chunks qualify, and no
   chunk of a filing dated after the cutoff is ever a candidate.
3. Reciprocal rank fusion of the two lists, times (1 + boosts): the Item the topic points
   to, the fiscal year the question names, the company's newest filing as of the cutoff
   when the question names no year (or says "latest").
4. MMR with a high lambda, to keep relevance first and only push down chunks that repeat
   ones already chosen (the same boilerplate in several years' filings).
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from appliance.db.connection import Connection
from appliance.db.queries import rag as q
from appliance.edgar.vocabulary import FORM_FAMILIES, form_family
from appliance.rag import keyword
from appliance.rag.embedding import TextEmbedder
from appliance.rag.query import CompanyMatcher, QueryPlan, analyze
from appliance.rag.vectors import RowMeta, SearchFilter, VectorIndex, day_number, dequantize

__all__ = [
    "Catalog",
    "FilingInfo",
    "Hit",
    "Retriever",
    "SearchRequest",
    "SearchResult",
    "Tuning",
]

log = logging.getLogger("appliance.rag")


def _form_code(form: str) -> int:
    family = form_family(form)
    return FORM_FAMILIES.index(family) + 1 if family in FORM_FAMILIES else 0


@dataclass(frozen=True)
class Tuning:
    """Retrieval knobs; the defaults were chosen on tests/data/qa_dev.jsonl (see bench)."""

    candidates: int = 100  # from each of dense and keyword
    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    header_weight: float = 1.0  # BM25 column weights
    text_weight: float = 1.0
    section_boost: float = 0.5
    year_boost: float = 0.6
    recency_boost: float = 0.4
    latest_boost: float = 1.0
    form_boost: float = 0.3
    mmr_lambda: float = 0.9
    mmr_pool: int = 30
    # A chunk of a few tokens ("None.", "Not applicable.") matches on its header alone.
    short_tokens: int = 24


@dataclass(frozen=True)
class FilingInfo:
    accession: str
    key: int  # company key: the CIK, or a stable stand-in when the filing has none
    ticker: str | None
    company: str | None
    form: str
    family: str
    filing_date: str
    day: int
    fiscal_year: int
    ordinal: int  # small int for the vector index's filing filter


def _company_key(cik: int | None, ticker: str | None, company: str | None) -> int:
    if cik:
        return int(cik)
    name = (ticker or company or "").upper()
    return -(zlib.crc32(name.encode()) % 2**31) - 1


def _fiscal_year(form: str, filing_date: str, period: str | None) -> int:
    if period:
        return int(period[:4])
    d = date.fromisoformat(filing_date)
    # An annual report filed early in a year covers the year before.
    return d.year - 1 if form_family(form) == "10-K" and d.month <= 4 else d.year


class Catalog:
    """What retrieval knows about the imported filings and the companies behind them."""

    def __init__(self, metas: Sequence[q.FilingMeta], companies: Sequence[q.CompanyRow]) -> None:
        self.filings: dict[str, FilingInfo] = {}
        self.tickers: dict[str, int] = {}
        for n, m in enumerate(metas):
            key = _company_key(m.cik, m.ticker, m.company)
            self.filings[m.accession] = FilingInfo(
                accession=m.accession,
                key=key,
                ticker=m.ticker,
                company=m.company,
                form=m.form,
                family=form_family(m.form),
                filing_date=m.filing_date,
                day=day_number(m.filing_date),
                fiscal_year=_fiscal_year(m.form, m.filing_date, m.period_of_report),
                ordinal=n + 1,
            )
            if m.ticker:
                self.tickers.setdefault(m.ticker.upper(), key)
        self.matcher = CompanyMatcher(companies)

    def latest(
        self, keys: Iterable[int] | None, max_day: int | None, families: Iterable[str] | None
    ) -> set[str]:
        """The newest filing per (company, form family) dated on or before the cutoff."""
        want = set(keys) if keys is not None else None
        fams = set(families) if families is not None else None
        best: dict[tuple[int, str], FilingInfo] = {}
        for f in self.filings.values():
            if want is not None and f.key not in want:
                continue
            if fams is not None and f.family not in fams:
                continue
            if max_day is not None and f.day > max_day:
                continue
            cur = best.get((f.key, f.family))
            if cur is None or (f.day, f.accession) > (cur.day, cur.accession):
                best[(f.key, f.family)] = f
        return {f.accession for f in best.values()}


@dataclass(frozen=True)
class SearchRequest:
    query: str
    ticker: str | None = None
    cutoff: str | None = None  # ISO date, inclusive
    forms: tuple[str, ...] | None = None
    sections: tuple[str, ...] | None = None
    top_k: int = 5


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    score: float
    cosine: float
    dense_rank: int | None
    keyword_rank: int | None
    citation: q.CitationRow


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    plan: QueryPlan
    companies: frozenset[int] | None
    unknown_ticker: bool = False
    timings: dict[str, float] = field(default_factory=dict)


class Retriever:
    """Owns the in-memory vector index and the filing catalog; answers searches.

    Thread-safe: searches run on the database's reader threads; the indexer calls
    :meth:`apply` after each committed batch and :meth:`refresh` after imports.
    """

    def __init__(self, embedder: TextEmbedder | None, tuning: Tuning | None = None) -> None:
        # Without an embedder (models not loaded) search is keyword-only over what is indexed.
        self.embedder = embedder
        self.tuning = tuning or Tuning()
        self.index = VectorIndex()
        self._catalog = Catalog([], [])
        self._sections: dict[str, int] = {}
        self._lock = threading.Lock()

    # ----- keeping in step with the database -----
    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def refresh(self, conn: Connection) -> None:
        """Re-read the filing catalog and company names (after an import)."""
        self._catalog = Catalog(q.filing_metas(conn), q.companies(conn))

    def _section_code(self, item: str) -> int:
        code = self._sections.get(item)
        if code is None:
            with self._lock:
                code = self._sections.setdefault(item, len(self._sections) + 1)
        return code

    def _rows(self, rows: Iterable[q.IndexRow]) -> tuple[list[RowMeta], np.ndarray]:
        metas: list[RowMeta] = []
        codes: list[bytes] = []
        catalog = self._catalog
        for r in rows:
            info = catalog.filings.get(r.accession)
            if info is None:
                continue
            metas.append(
                RowMeta(
                    chunk_id=r.chunk_id,
                    company=info.key,
                    day=info.day,
                    form=_form_code(r.form),
                    section=self._section_code(r.item),
                    filing=info.ordinal,
                )
            )
            codes.append(r.embedding)
        if not codes:
            return metas, np.zeros((0, self.index.dim), np.float32)
        raw = np.frombuffer(b"".join(codes), dtype=np.int8).reshape(len(codes), -1)
        return metas, dequantize(raw)

    def load(self, conn: Connection) -> int:
        """Build the catalog and the whole vector index from the database (start-up)."""
        self.refresh(conn)
        metas, vectors = self._rows(q.index_rows(conn))
        self.index.load(metas, vectors)
        return len(metas)

    def apply(self, conn: Connection, removed: Sequence[int], new: Sequence[int]) -> None:
        """Mirror a committed indexing batch into the in-memory index."""
        if removed:
            self.index.remove(removed)
        if new:
            rows = list(q.index_rows(conn, list(new)))
            if any(r.accession not in self._catalog.filings for r in rows):
                self.refresh(conn)
            metas, vectors = self._rows(rows)
            self.index.add(metas, vectors)

    def sync(self, conn: Connection) -> None:
        """Reconcile with the database (chunks deleted by a re-import, added elsewhere)."""
        self.refresh(conn)
        live = q.live_chunk_ids(conn)
        have = self.index.ids()
        gone = have - live
        if gone:
            self.index.remove(gone)
        missing = sorted(live - have)
        for i in range(0, len(missing), 2000):
            metas, vectors = self._rows(q.index_rows(conn, missing[i : i + 2000]))
            self.index.add(metas, vectors)

    # ----- searching -----
    def resolve_ticker(self, conn: Connection, ticker: str) -> int | None:
        key = self._catalog.tickers.get(ticker.strip().upper())
        return key if key is not None else q.resolve_ticker(conn, ticker)

    def search(self, conn: Connection, req: SearchRequest) -> SearchResult:
        import time

        t0 = time.perf_counter()
        t = self.tuning
        catalog = self._catalog
        plan = analyze(req.query, catalog.matcher)
        companies: frozenset[int] | None = None
        if req.ticker:
            key = self.resolve_ticker(conn, req.ticker)
            if key is None:
                return SearchResult([], plan, None, unknown_ticker=True)
            companies = frozenset({key})
        elif plan.companies:
            companies = plan.companies
        max_day = day_number(req.cutoff) if req.cutoff else None
        families = {form_family(f) for f in req.forms} if req.forms else None
        form_codes = frozenset(_form_code(f) for f in req.forms) if req.forms is not None else None
        section_codes = (
            frozenset(self._sections[s] for s in req.sections if s in self._sections)
            if req.sections is not None
            else None
        )
        flt = SearchFilter(
            companies=companies, max_day=max_day, forms=form_codes, sections=section_codes
        )
        qvec = self.embedder.embed([req.query])[0] if self.embedder is not None else None
        t1 = time.perf_counter()
        dense = self.index.search(qvec, t.candidates, flt) if qvec is not None else []
        t2 = time.perf_counter()
        match = keyword.fts_query(req.query)
        kw: list[tuple[int, float]] = []
        if match:
            kw = q.keyword_search(
                conn,
                match,
                t.candidates,
                weights=(t.header_weight, t.text_weight),
                ciks=self._ciks(companies),
                cutoff=req.cutoff,
                forms=self._forms(catalog, families),
                items=list(req.sections) if req.sections is not None else None,
            )
            kw = self._keyword_companies(catalog, kw, companies, conn)
        t3 = time.perf_counter()
        fused = self._fuse(conn, plan, dense, kw, companies, max_day, families)
        chosen = self._mmr(fused, qvec, req.top_k)
        rows = q.citation_rows(conn, [c for c, *_ in chosen])
        hits: list[Hit] = []
        for chunk_id, score, cos, d_rank, k_rank in chosen:
            row = rows.get(chunk_id)
            if row is None:
                continue
            if req.cutoff and row.filing_date > req.cutoff:  # cannot happen; never let it out
                log.error("point-in-time filter let %s through", row.accession)
                continue
            hits.append(Hit(chunk_id, score, cos, d_rank, k_rank, row))
        t4 = time.perf_counter()
        timings = {"embed": t1 - t0, "dense": t2 - t1, "keyword": t3 - t2, "fuse": t4 - t3}
        return SearchResult(hits, plan, companies, timings=timings)

    @staticmethod
    def _ciks(companies: frozenset[int] | None) -> list[int] | None:
        # A stand-in key (no CIK) cannot be filtered in SQL: filter those afterwards.
        if companies is None or not all(c > 0 for c in companies):
            return None
        return sorted(companies)

    @staticmethod
    def _forms(catalog: Catalog, families: set[str] | None) -> list[str] | None:
        if families is None:
            return None
        return sorted({f.form for f in catalog.filings.values() if f.family in families})

    def _keyword_companies(
        self,
        catalog: Catalog,
        kw: list[tuple[int, float]],
        companies: frozenset[int] | None,
        conn: Connection,
    ) -> list[tuple[int, float]]:
        # Filings without a CIK have a stand-in key, which SQL cannot filter on.
        if companies is None or all(c > 0 for c in companies):
            return kw
        rows = q.citation_rows(conn, [c for c, _ in kw])
        out = []
        for chunk_id, score in kw:
            row = rows.get(chunk_id)
            info = catalog.filings.get(row.accession) if row else None
            if info is not None and info.key in companies:
                out.append((chunk_id, score))
        return out

    def _fuse(
        self,
        conn: Connection,
        plan: QueryPlan,
        dense: list[tuple[int, float]],
        kw: list[tuple[int, float]],
        companies: frozenset[int] | None,
        max_day: int | None,
        families: set[str] | None,
    ) -> list[tuple[int, float, float, int | None, int | None]]:
        t = self.tuning
        d_rank = {c: i for i, (c, _) in enumerate(dense)}
        k_rank = {c: i for i, (c, _) in enumerate(kw)}
        cosine = dict(dense)
        ids = list(dict.fromkeys([c for c, _ in dense] + [c for c, _ in kw]))
        if not ids:
            return []
        meta = {r.chunk_id: r for r in q.index_rows(conn, ids)}
        catalog = self._catalog
        newest = catalog.latest(
            companies, max_day, {plan.form_hint} if plan.form_hint else families
        )
        out = []
        for c in ids:
            rrf = 0.0
            if c in d_rank:
                rrf += t.dense_weight / (t.rrf_k + d_rank[c] + 1)
            if c in k_rank:
                rrf += t.keyword_weight / (t.rrf_k + k_rank[c] + 1)
            row = meta.get(c)
            boost = 0.0
            if row is not None:
                info = catalog.filings.get(row.accession)
                if plan.items and row.item in plan.items:
                    boost += t.section_boost
                if info is not None:
                    if plan.years:
                        if info.fiscal_year in plan.years:
                            boost += t.year_boost
                        elif int(info.filing_date[:4]) in plan.years:
                            boost += t.year_boost / 2  # "the 10-K filed in 2025"
                    elif row.accession in newest:
                        boost += t.latest_boost if plan.latest else t.recency_boost
                    if plan.form_hint and info.family == plan.form_hint:
                        boost += t.form_boost
            out.append(
                (c, rrf * (1.0 + boost), cosine.get(c, float("nan")), d_rank.get(c), k_rank.get(c))
            )
        out.sort(key=lambda x: -x[1])
        return out

    def _mmr(
        self,
        fused: list[tuple[int, float, float, int | None, int | None]],
        qvec: np.ndarray | None,
        k: int,
    ) -> list[tuple[int, float, float, int | None, int | None]]:
        t = self.tuning
        pool = fused[: max(t.mmr_pool, k)]
        if not pool:
            return []
        vecs = self.index.vectors_for([c for c, *_ in pool])
        cos = vecs @ qvec if qvec is not None else np.full(len(pool), np.nan, np.float32)
        pool = [
            (c, s, float(cos[i]) if np.isnan(cs) else cs, dr, kr)
            for i, (c, s, cs, dr, kr) in enumerate(pool)
        ]
        if t.mmr_lambda >= 1.0 or len(pool) <= 1:
            return pool[:k]
        rel = np.array([s for _, s, *_ in pool], dtype=np.float32)
        rel = rel / rel.max()
        sims = vecs @ vecs.T
        chosen: list[int] = []
        left = list(range(len(pool)))
        while left and len(chosen) < k:
            if chosen:
                penalty = sims[np.ix_(left, chosen)].max(axis=1)
            else:
                penalty = np.zeros(len(left), np.float32)
            mmr = t.mmr_lambda * rel[left] - (1 - t.mmr_lambda) * penalty
            best = left[int(np.argmax(mmr))]
            chosen.append(best)
            left.remove(best)
        return [pool[i] for i in chosen]
