"""Retrieval on real Apple filings with the real embedder: point-in-time, filters, MMR,
answers, and indexing that is incremental, resumable and leaves no orphans."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from appliance.db.connection import Connection
from appliance.db.sqlite import SqliteSession
from appliance.rag.answer import answer
from appliance.rag.index import DEFAULT_POLICY, Indexer
from appliance.rag.retrieve import Retriever, SearchRequest
from appliance.rag.vectors import day_number
from tests.support.rag import (
    AAPL_10K_2024,
    AAPL_10K_2025,
    AAPL_10Q_2024_08,
    AAPL_10Q_2025_05,
    ITEMS,
)

EMPLOYEES = "How many employees does Apple have?"


@pytest.fixture
def conn(rag_conn: Any) -> Any:
    return rag_conn


@pytest.fixture
def retriever(conn: Connection, embedder: Any) -> Retriever:
    r = Retriever(embedder)
    assert r.load(conn) > 50
    return r


def _search(r: Retriever, conn: Connection, query: str, **kw: Any) -> list[Any]:
    return [h.citation for h in r.search(conn, SearchRequest(query=query, **kw)).hits]


def test_latest_filing_answers_by_default(retriever: Retriever, conn: Connection) -> None:
    body = answer(conn, retriever, SearchRequest(query=EMPLOYEES))
    assert body["as_of"] is None and len(body["citations"]) == 5
    top = body["citations"][0]
    assert top["accession"] == AAPL_10K_2025 and top["section"] == "1"
    assert "166,000" in top["text"] and "166,000" in body["answer"]
    assert "[1]" in body["answer"]
    assert top["url"].startswith("https://www.sec.gov/Archives/edgar/data/320193/")
    assert top["ticker"] == "AAPL" and top["cik"] == 320193 and top["company"] == "Apple Inc."
    assert top["section_title"] and top["filing_date"] == "2025-10-31"


def test_cutoff_between_two_10ks_cites_only_older_filings(
    retriever: Retriever, conn: Connection
) -> None:
    body = answer(conn, retriever, SearchRequest(query=EMPLOYEES, cutoff="2025-06-01"))
    cites = body["citations"]
    # The filter runs inside the search: top_k still comes back from the older filings.
    assert len(cites) == 5
    assert all(c["filing_date"] <= "2025-06-01" for c in cites)
    assert AAPL_10K_2025 not in {c["accession"] for c in cites}
    assert cites[0]["accession"] == AAPL_10K_2024
    assert any("164,000" in c["text"] for c in cites) and "164,000" in body["answer"]
    assert body["as_of"] == "2025-06-01"


def test_cutoff_before_every_filing_returns_no_citations(
    retriever: Retriever, conn: Connection
) -> None:
    body = answer(conn, retriever, SearchRequest(query=EMPLOYEES, cutoff="2024-01-01"))
    assert body["citations"] == []
    assert "2024-01-01" in body["answer"] and "No" in body["answer"]
    body = answer(
        conn, retriever, SearchRequest(query=EMPLOYEES, ticker="AAPL", cutoff="1999-12-31")
    )
    assert body["citations"] == [] and "AAPL" in body["answer"]


@pytest.mark.parametrize("cutoff", ["2024-08-02", "2024-11-01", "2025-05-02", "2025-08-01"])
def test_no_citation_is_ever_newer_than_the_cutoff(
    retriever: Retriever, conn: Connection, cutoff: str
) -> None:
    for query in (EMPLOYEES, "legal proceedings", "latest quarterly report", "cybersecurity"):
        for hit in _search(retriever, conn, query, cutoff=cutoff, top_k=20):
            assert hit.filing_date <= cutoff


def test_form_section_and_ticker_filters(retriever: Retriever, conn: Connection) -> None:
    hits = _search(retriever, conn, "legal proceedings", forms=("10-Q",), top_k=10)
    assert len(hits) == 10 and {h.form for h in hits} == {"10-Q"}
    n_1c = conn.execute(
        "SELECT count(*) FROM chunks c JOIN sections s ON s.id = c.section_id WHERE s.item = '1C'"
    ).fetchone()[0]
    assert n_1c >= 4
    hits = _search(retriever, conn, "who manages security risk", sections=("1C",), top_k=20)
    assert len(hits) == n_1c and {h.item for h in hits} == {"1C"}
    hits = _search(retriever, conn, EMPLOYEES, ticker="MSFT")
    assert hits == []  # a known ticker with no filings here
    result = retriever.search(conn, SearchRequest(query=EMPLOYEES, ticker="NOPE"))
    assert result.unknown_ticker


def test_latest_quarterly_report_follows_the_cutoff(retriever: Retriever, conn: Connection) -> None:
    hits = _search(
        retriever,
        conn,
        "What legal proceedings did Apple report in its latest 10-Q?",
        cutoff="2025-06-01",
    )
    assert hits[0].accession == AAPL_10Q_2025_05 and hits[0].item == "part2_item1"


def test_the_newest_filing_of_all_is_marked_over_the_one_it_updates(
    retriever: Retriever, conn: Connection
) -> None:
    # Recency boosts go in full to a company's newest filing as of the cutoff; the newest of
    # another form that it followed (the 10-K once a 10-Q is out) keeps a share.
    catalog = retriever.catalog
    assert catalog.latest(None, day_number("2025-06-01"), None) == {
        AAPL_10K_2024: False,
        AAPL_10Q_2025_05: True,
    }
    assert catalog.latest(None, day_number("2024-12-31"), None) == {
        AAPL_10K_2024: True,
        AAPL_10Q_2024_08: False,
    }
    assert catalog.latest(None, day_number("2025-06-01"), {"10-K"}) == {AAPL_10K_2024: True}


def test_mmr_pushes_down_near_duplicates(retriever: Retriever, conn: Connection) -> None:
    query = "Where are Apple's headquarters and what properties does it own?"
    # Focus off: it spreads the top scores apart, and this measures MMR alone.
    plain = dataclasses.replace(retriever.tuning, mmr_lambda=1.0, focus_boost=0.0)
    diverse = dataclasses.replace(retriever.tuning, mmr_lambda=0.5, focus_boost=0.0)

    def pick(tuning: Any) -> tuple[list[int], float]:
        retriever.tuning = tuning
        # Top 3: the next passages score close together, so the copy MMR pushes down from
        # 2nd place lands 4th, still inside a top 4.
        ids = [h.chunk_id for h in retriever.search(conn, SearchRequest(query, top_k=3)).hits]
        v = retriever.index.vectors_for(ids)
        sims = v @ v.T
        np.fill_diagonal(sims, -1)
        return ids, float(sims.max())

    (without, redundancy), (with_mmr, spread) = pick(plain), pick(diverse)
    # Item 2 is nearly the same text in both 10-Ks: relevance alone ranks the copies together.
    assert redundancy > 0.95
    assert with_mmr[0] == without[0]  # the most relevant chunk stays first
    assert spread < redundancy and set(with_mmr) != set(without)


def _consistent(conn: Connection) -> tuple[int, int]:
    chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    vectors = conn.execute("SELECT count(*) FROM chunk_vectors").fetchone()[0]
    fts = conn.execute("SELECT count(*) FROM chunks_fts_docsize").fetchone()[0]
    marked = conn.execute("SELECT coalesce(sum(chunks), 0) FROM indexed_sections").fetchone()[0]
    dupes = conn.execute(
        "SELECT count(*) FROM (SELECT section_id, ordinal FROM chunks"
        " GROUP BY section_id, ordinal HAVING count(*) > 1)"
    ).fetchone()[0]
    orphans = conn.execute(
        "SELECT count(*) FROM chunk_vectors v LEFT JOIN chunks c ON c.id = v.chunk_id"
        " WHERE c.id IS NULL"
    ).fetchone()[0]
    assert chunks == vectors == fts == marked and dupes == 0 and orphans == 0
    return chunks, conn.execute("SELECT count(*) FROM indexed_sections").fetchone()[0]


class _Crash(Exception):
    pass


def test_indexing_is_incremental_and_resumes_after_a_crash(conn: Connection, embedder: Any) -> None:
    before, sections_before = _consistent(conn)
    indexer = Indexer(embedder, batch=8)
    db = SqliteSession(conn)
    # Already indexed: nothing to do.
    assert indexer.run(db, items=ITEMS).sections == 0
    more = ("3", "5", "part2_item1a")
    todo = len(indexer.pending(db, None, more))
    assert todo > 4

    class Crashing(SqliteSession):
        """Killed on the third batch's write."""

        batches = 0

        def write(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            Crashing.batches += 1
            if Crashing.batches == 3:
                raise _Crash("killed mid-run")
            return super().write(fn, *args, **kwargs)

    with pytest.raises(_Crash):
        indexer.run(Crashing(conn), items=more)
    partial, sections_partial = _consistent(conn)
    assert before < partial and sections_before < sections_partial
    result = indexer.run(db, items=more)
    assert 0 < result.sections < todo  # only what the crash left
    after, sections_after = _consistent(conn)
    assert sections_after == sections_before + todo
    assert after == partial + result.chunks


def test_deleting_a_filing_removes_its_chunks_vectors_and_keywords(
    conn: Connection, retriever: Retriever
) -> None:
    _consistent(conn)
    SqliteSession(conn).write(
        lambda c: c.execute("DELETE FROM filings WHERE accession = ?", (AAPL_10K_2025,))
    )
    _consistent(conn)
    assert (
        conn.execute(
            "SELECT count(*) FROM chunks WHERE accession = ?", (AAPL_10K_2025,)
        ).fetchone()[0]
        == 0
    )
    retriever.sync(conn)
    assert all(h.accession != AAPL_10K_2025 for h in _search(retriever, conn, EMPLOYEES, top_k=20))


def test_a_named_fiscal_year_picks_the_filing_that_covers_it(
    retriever: Retriever, conn: Connection
) -> None:
    hits = _search(retriever, conn, "How many employees did Apple have at the end of fiscal 2024?")
    assert hits[0].accession == AAPL_10K_2024 and "164,000" in hits[0].text
    # Named explicitly, the period is a filter inside the search: only fiscal 2024 filings.
    assert {h.accession for h in hits} <= {AAPL_10K_2024, AAPL_10Q_2024_08}
    hits = _search(retriever, conn, "What legal proceedings were pending in April-June 2024?")
    assert hits[0].accession == AAPL_10Q_2024_08


class _Counting:
    """The real embedder, counting what it is asked to embed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.fingerprint = inner.fingerprint
        self.texts: list[str] = []

    def embed(self, texts: Any) -> Any:
        self.texts += list(texts)
        return self.inner.embed(texts)

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))


def test_reindexing_reuses_vectors_by_content_hash(conn: Connection, embedder: Any) -> None:
    db = SqliteSession(conn)
    before = {
        int(r[0]): bytes(r[1])
        for r in conn.execute(
            "SELECT c.ordinal + 1000 * c.section_id, v.embedding FROM chunks c"
            " JOIN chunk_vectors v ON v.chunk_id = c.id"
        )
    }
    db.write(lambda c: c.execute("DELETE FROM indexed_sections"))
    counting = _Counting(embedder)
    indexer = Indexer(counting)
    result = indexer.run(db, items=ITEMS)
    assert result.chunks == len(before) and counting.texts == []  # nothing re-embedded
    assert indexer.reused == len(before)
    after = {
        int(r[0]): bytes(r[1])
        for r in conn.execute(
            "SELECT c.ordinal + 1000 * c.section_id, v.embedding FROM chunks c"
            " JOIN chunk_vectors v ON v.chunk_id = c.id"
        )
    }
    assert after == before
    # Without reuse every chunk is embedded again; the header line the embedder reads names
    # no period or date (the passage below it may: "fiscal year" is common filing prose).
    db.write(lambda c: c.execute("DELETE FROM indexed_sections WHERE rowid % 3 = 0"))
    plain = Indexer(counting, reuse=False)
    again = plain.run(db, items=ITEMS)
    assert 0 < again.chunks == len(counting.texts)
    headers = {t.split("\n", 1)[0] for t in counting.texts}
    assert headers and not any("filed " in h or "fiscal year" in h for h in headers)


def test_another_passage_encoder_reindexes_every_section(
    conn: Connection, passages: Any, embedder: Any
) -> None:
    # Vectors from two encoders do not share a space: the index records which one wrote it.
    db = SqliteSession(conn)
    current, other = Indexer(embedder), Indexer(_Counting(passages))
    assert current.pending(db, None, ITEMS) == []
    assert current.version != other.version and other.version.startswith(
        DEFAULT_POLICY.version + "+minilm-l3-passages@int8:"
    )
    indexed = conn.execute("SELECT count(*) FROM indexed_sections").fetchone()[0]
    assert len(other.pending(db, None, ITEMS)) == indexed
    result = other.run(db, items=ITEMS)
    assert result.sections == indexed and other.reused == 0  # no vector carried across models
    assert other.pending(db, None, ITEMS) == []
    assert len(current.pending(db, None, ITEMS)) == indexed  # switching back re-indexes too
    _consistent(conn)


def test_the_searched_company_names_words_for_focus_to_leave_out(retriever: Retriever) -> None:
    catalog = retriever.catalog
    apple = catalog.tickers["AAPL"]
    assert {"apple", "aapl"} <= catalog.name_words({apple})
    assert catalog.name_words(None) == frozenset()
