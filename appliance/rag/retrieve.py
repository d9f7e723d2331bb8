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
4. Focus (:mod:`appliance.rag.focus`): the best fused candidates are preferred by how much of
   the question one of their sentences or table rows holds (with a figure, for "how much").
5. MMR with a high lambda, to keep relevance first and only push down chunks that repeat
   ones already chosen (the same boilerplate in several years' filings).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from appliance.db.connection import Connection
from appliance.db.queries import rag as q
from appliance.edgar.vocabulary import FORM_FAMILIES, form_family
from appliance.rag import keyword, periods
from appliance.rag.embedding import PassageEncoder, PassageScorer, TextEmbedder
from appliance.rag.focus import QueryFocus
from appliance.rag.query import CompanyMatcher, QueryPlan, analyze
from appliance.rag.reading import PassageVectors
from appliance.rag.vectors import RowMeta, SearchFilter, VectorIndex, day_number, dequantize

__all__ = [
    "CROSS_ENCODER_PRIOR",
    "READER_PRIOR",
    "Catalog",
    "FilingInfo",
    "Hit",
    "Retriever",
    "SearchRequest",
    "SearchResult",
    "Tuning",
    "rerank_scores",
]

log = logging.getLogger("appliance.rag")
PERIODIC = frozenset({"10-K", "10-Q", "20-F", "40-F"})  # forms that report a fiscal period


def _form_code(form: str) -> int:
    family = form_family(form)
    return FORM_FAMILIES.index(family) + 1 if family in FORM_FAMILIES else 0


# The fused-score prior of each reranking model, chosen on the blind tune split.
# all-mpnet-base-v2, 8 candidates (torch fp32): tune hit@5 0.859 at 16-24, 0.847 at 32, and
# section@1 best at 24; the shipped int8 model: 0.847 at 24.
READER_PRIOR = 24.0
CROSS_ENCODER_PRIOR = 32.0  # the committed cross-encoder, 12 candidates: tune hit@5 unchanged


@dataclass(frozen=True)
class Tuning:
    """Retrieval knobs; the defaults were chosen on tests/data/qa_dev.jsonl and, from
    ``superseded_share`` and ``focus_boost`` on, on the blind set's tune split (see bench)."""

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
    # The newest filing of a form family that a later filing of another family followed
    # (the 10-K once a 10-Q is out) keeps this share of the recency boosts.
    superseded_share: float = 0.5
    mmr_lambda: float = 0.9
    mmr_pool: int = 30
    # A chunk of a few tokens ("None.", "Not applicable.") matches on its header alone.
    short_tokens: int = 24
    # A fiscal period the question names: its filings get this boost (times how well they
    # match), and when it is named explicitly ("fiscal 2025", "the quarter ended July 2025")
    # the search is restricted to the filings that cover it, if any does.
    period_boost: float = 0.8
    period_filter: bool = True
    # Passage focus (rag.focus): the best ``mmr_pool`` fused candidates' scores times
    # (1 + this x the share of the question one of their sentences or rows holds). Tune
    # split hit@5: 0.812 at 0, 0.824 at 0.25, 0.812 at 0.5, 0.847 at 1, 0.824 at 2.
    focus_boost: float = 1.0
    # The reranking stage: the top ``rerank_candidates`` fused passages are reread by a
    # passage scorer (the all-mpnet-base-v2 reader, or the cross-encoder); 0 turns it off.
    # Final order: the scorer's logit + rerank_prior x log of the fused score relative to the
    # best (keeps the query-analysis preferences in play). The reader at 8 candidates: blind
    # tune hit@5 0.800 -> 0.847; 6-30 candidates did no better (README "Retrieval quality").
    rerank_candidates: int = 8
    rerank_prior: float = READER_PRIOR


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
    period: periods.FilingPeriod
    ordinal: int  # small int for the vector index's filing filter

    @property
    def fiscal_year(self) -> int:
        return self.period.fiscal_year


def _company_key(cik: int | None, ticker: str | None, company: str | None) -> int:
    if cik:
        return int(cik)
    name = (ticker or company or "").upper()
    return -(zlib.crc32(name.encode()) % 2**31) - 1


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _year_ends(metas: Sequence[q.FilingMeta]) -> dict[int, tuple[int, int]]:
    """Each company's fiscal year end (month, day), from its annual reports' periods."""
    ends: dict[int, list[date]] = {}
    for m in metas:
        end = _date(m.period_of_report)
        if end is not None and form_family(m.form) == "10-K":
            ends.setdefault(_company_key(m.cik, m.ticker, m.company), []).append(end)
    out = {}
    for key, days in ends.items():
        year_end = periods.year_end_of(days)
        if year_end is not None:
            out[key] = year_end
    return out


class Catalog:
    """What retrieval knows about the imported filings and the companies behind them."""

    def __init__(self, metas: Sequence[q.FilingMeta], companies: Sequence[q.CompanyRow]) -> None:
        self.filings: dict[str, FilingInfo] = {}
        self.tickers: dict[str, int] = {}
        self._names: dict[int, set[str]] = {}  # company key -> words naming it
        year_ends = _year_ends(metas)
        for n, m in enumerate(metas):
            key = _company_key(m.cik, m.ticker, m.company)
            family = form_family(m.form)
            self.filings[m.accession] = FilingInfo(
                accession=m.accession,
                key=key,
                ticker=m.ticker,
                company=m.company,
                form=m.form,
                family=family,
                filing_date=m.filing_date,
                day=day_number(m.filing_date),
                period=periods.filing_period(
                    family,
                    _date(m.period_of_report),
                    date.fromisoformat(m.filing_date),
                    year_ends.get(key),
                ),
                ordinal=n + 1,
            )
            if m.ticker:
                self.tickers.setdefault(m.ticker.upper(), key)
            self._names.setdefault(key, set()).update(
                keyword.terms(f"{m.company or ''} {m.ticker or ''}")
            )
        self.matcher = CompanyMatcher(companies)

    def latest(
        self, keys: Iterable[int] | None, max_day: int | None, families: Iterable[str] | None
    ) -> dict[str, bool]:
        """The newest filing per (company, form family) dated on or before the cutoff, each
        with whether it is also its company's newest of all (a 10-Q filed after the 10-K
        updates the matters the 10-K reported)."""
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
        # In date order, each company's last filing wins.
        newest = {
            f.key: f.accession for f in sorted(best.values(), key=lambda f: (f.day, f.accession))
        }
        return {f.accession: newest[f.key] == f.accession for f in best.values()}

    def name_words(self, keys: Iterable[int] | None) -> frozenset[str]:
        """The words of the names and tickers of the companies ``keys`` (none for None)."""
        if keys is None:
            return frozenset()
        return frozenset(w for k in keys for w in self._names.get(k, ()))

    def period_matches(
        self,
        refs: Sequence[periods.PeriodRef],
        keys: Iterable[int] | None,
        max_day: int | None,
    ) -> dict[str, float]:
        """Periodic reports (of ``keys``, dated on or before the cutoff) covering a named
        period, with how well (the best over the named periods). Event filings (8-K) cover
        no fiscal period."""
        want = set(keys) if keys is not None else None
        out: dict[str, float] = {}
        for f in self.filings.values():
            if (want is not None and f.key not in want) or (
                max_day is not None and f.day > max_day
            ):
                continue
            if f.family not in PERIODIC:
                continue
            score = max((periods.matches(f.period, r) for r in refs), default=0.0)
            if score > 0:
                out[f.accession] = score
        return out


@dataclass(frozen=True)
class SearchRequest:
    query: str
    ticker: str | None = None
    cutoff: str | None = None  # ISO date, inclusive
    forms: tuple[str, ...] | None = None
    sections: tuple[str, ...] | None = None
    top_k: int = 5
    # The companies (CIKs) the caller resolved the question to (rag.companies), empty for
    # none named; None lets the catalog's own matcher decide.
    companies: frozenset[int] | None = None


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    score: float
    cosine: float
    dense_rank: int | None
    keyword_rank: int | None
    citation: q.CitationRow
    rerank: float | None = None  # the reranker's logit, when the reranking stage ran


@dataclass(frozen=True)
class _Candidate:
    chunk_id: int
    score: float
    cosine: float
    dense_rank: int | None
    keyword_rank: int | None
    rerank: float | None = None


def rerank_scores(result: SearchResult) -> list[float]:
    """The reranker's logits of a search's hits, best first (empty when it did not run).

    A question whose best passage scores low was probably not answered by any filing: a
    feature for deciding whether to answer at all.
    """
    return [h.rerank for h in result.hits if h.rerank is not None]


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

    def __init__(
        self,
        embedder: TextEmbedder | None,
        tuning: Tuning | None = None,
        reranker: PassageScorer | None = None,
    ) -> None:
        # Without an embedder (models not loaded) search is keyword-only over what is indexed;
        # without a reranker the fused order stands. A reranker that encodes passages apart
        # from the question (the reader) reads their stored vectors (rag.reading).
        self.embedder = embedder
        self.reranker = reranker
        self.passages = PassageVectors(reranker) if isinstance(reranker, PassageEncoder) else None
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
        elif req.companies is not None:
            companies = req.companies or None
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
        named = periods.parse(req.query) if t.period_boost or t.period_filter else []
        period_fit = catalog.period_matches(named, companies, max_day) if named else {}
        # A period named explicitly restricts the search to the filings covering it (when
        # one does), inside both searches like the cutoff; otherwise it is a preference.
        only: list[str] | None = None
        if t.period_filter and period_fit and any(r.explicit for r in named):
            only = sorted(period_fit)
        flt = SearchFilter(
            companies=companies,
            max_day=max_day,
            forms=form_codes,
            sections=section_codes,
            filings=(
                frozenset(catalog.filings[a].ordinal for a in only) if only is not None else None
            ),
        )
        qvec = self.embedder.embed([req.query])[0] if self.embedder is not None else None
        t1 = time.perf_counter()
        dense = (
            self.index.search(qvec, t.candidates, flt)
            if qvec is not None and t.dense_weight > 0
            else []
        )
        t2 = time.perf_counter()
        match = keyword.fts_query(req.query) if t.keyword_weight > 0 else None
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
                accessions=only,
            )
            kw = self._keyword_companies(catalog, kw, companies, conn)
        t3 = time.perf_counter()
        fused = self._fuse(conn, plan, dense, kw, companies, max_day, families, period_fit)
        pool = fused[: max(t.mmr_pool, t.rerank_candidates, req.top_k)]
        rows = q.citation_rows(conn, [c.chunk_id for c in pool])
        if t.focus_boost > 0:
            pool = self._focus(req.query, catalog.name_words(companies), pool, rows)
        t4 = time.perf_counter()
        if self.reranker is not None and t.rerank_candidates > 0 and pool:
            pool = self._rerank(conn, req.query, pool[: t.rerank_candidates], rows)
        t5 = time.perf_counter()
        hits: list[Hit] = []
        for c in self._mmr(pool, qvec, req.top_k):
            row = rows.get(c.chunk_id)
            if row is None:
                continue
            if req.cutoff and row.filing_date > req.cutoff:  # cannot happen; never let it out
                log.error("point-in-time filter let %s through", row.accession)
                continue
            hits.append(
                Hit(c.chunk_id, c.score, c.cosine, c.dense_rank, c.keyword_rank, row, c.rerank)
            )
        t6 = time.perf_counter()
        timings = {
            "embed": t1 - t0,
            "dense": t2 - t1,
            "keyword": t3 - t2,
            "fuse": t4 - t3,
            "rerank": t5 - t4,
            "select": t6 - t5,
        }
        return SearchResult(hits, plan, companies, timings=timings)

    def _focus(
        self,
        query: str,
        names: frozenset[str],
        pool: list[_Candidate],
        rows: dict[int, q.CitationRow],
    ) -> list[_Candidate]:
        """Prefer the candidates holding the question in one sentence or row (rag.focus)."""
        measure = QueryFocus(query, names)
        boost = self.tuning.focus_boost
        out = [
            dataclasses.replace(c, score=c.score * (1.0 + boost * measure(rows[c.chunk_id].text)))
            if c.chunk_id in rows
            else c
            for c in pool
        ]
        out.sort(key=lambda c: -c.score)
        return out

    def _rerank(
        self,
        conn: Connection,
        query: str,
        pool: list[_Candidate],
        rows: dict[int, q.CitationRow],
    ) -> list[_Candidate]:
        """Reorder the fused candidates by the reranker, the fused score as a prior."""
        assert self.reranker is not None
        pool = [c for c in pool if c.chunk_id in rows]
        if not pool:
            return pool
        texts = [rows[c.chunk_id].text for c in pool]
        if self.passages is not None:
            logits = self.passages.encoder.score(query, texts, self.passages.stored(conn, texts))
        else:
            logits = self.reranker.score(query, texts)
        best = max(c.score for c in pool)
        prior = self.tuning.rerank_prior
        out = [
            dataclasses.replace(
                c,
                score=float(logit) + prior * math.log(max(c.score, 1e-12) / best),
                rerank=float(logit),
            )
            for c, logit in zip(pool, logits, strict=True)
        ]
        out.sort(key=lambda c: -c.score)
        return out

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
        period_fit: dict[str, float],
    ) -> list[_Candidate]:
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
                    fit = period_fit.get(row.accession, 0.0)
                    if period_fit:
                        boost += t.period_boost * fit
                    elif plan.years:
                        if info.fiscal_year in plan.years:
                            boost += t.year_boost
                        elif int(info.filing_date[:4]) in plan.years:
                            boost += t.year_boost / 2  # "the 10-K filed in 2025"
                    elif row.accession in newest:
                        share = 1.0 if newest[row.accession] else t.superseded_share
                        boost += share * (t.latest_boost if plan.latest else t.recency_boost)
                    if plan.form_hint and info.family == plan.form_hint:
                        boost += t.form_boost
            out.append(
                _Candidate(
                    c,
                    rrf * (1.0 + boost),
                    cosine.get(c, float("nan")),
                    d_rank.get(c),
                    k_rank.get(c),
                )
            )
        out.sort(key=lambda x: -x.score)
        return out

    def _mmr(self, pool: list[_Candidate], qvec: np.ndarray | None, k: int) -> list[_Candidate]:
        t = self.tuning
        if not pool:
            return []
        vecs = self.index.vectors_for([c.chunk_id for c in pool])
        cos = vecs @ qvec if qvec is not None else np.full(len(pool), np.nan, np.float32)
        pool = [
            dataclasses.replace(c, cosine=float(cos[i])) if np.isnan(c.cosine) else c
            for i, c in enumerate(pool)
        ]
        if t.mmr_lambda >= 1.0 or len(pool) <= 1:
            return pool[:k]
        raw = np.array([c.score for c in pool], dtype=np.float32)
        if raw.min() > 0:
            rel = raw / raw.max()
        else:  # reranked scores are logits: rescale to [0, 1]
            span = float(raw.max() - raw.min())
            rel = (raw - raw.min()) / span if span > 0 else np.ones_like(raw)
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
