"""The reranking stage on real Apple filings: the real int8 cross-encoder rereads the fused
candidates, and point-in-time holds at every ranking stage."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.db.connection import Connection
from appliance.rag.retrieve import Retriever, SearchRequest, Tuning, rerank_scores

EMPLOYEES = "How many employees does Apple have?"


@pytest.fixture
def conn(rag_conn: Any) -> Any:
    return rag_conn


STAGES = {
    "bm25": Tuning(dense_weight=0.0, rerank_candidates=0),
    "dense": Tuning(keyword_weight=0.0, rerank_candidates=0),
    "fused": Tuning(rerank_candidates=0),
    "fused+rerank": Tuning(rerank_candidates=12, rerank_prior=8.0),
    "dense top-5": Tuning(
        keyword_weight=0.0,
        mmr_lambda=1.0,
        rerank_candidates=0,
        section_boost=0.0,
        year_boost=0.0,
        recency_boost=0.0,
        latest_boost=0.0,
        form_boost=0.0,
        period_boost=0.0,
        period_filter=False,
    ),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_no_ranking_stage_ever_cites_a_filing_after_the_cutoff(
    conn: Connection, embedder: Any, reranker: Any, stage: str
) -> None:
    r = Retriever(embedder, STAGES[stage], reranker)
    r.load(conn)
    for cutoff in ("2024-08-02", "2025-05-01", "2025-08-01"):
        for query in (EMPLOYEES, "latest legal proceedings", "fiscal 2025 legal proceedings"):
            result = r.search(conn, SearchRequest(query=query, cutoff=cutoff, top_k=10))
            assert result.hits, (stage, cutoff, query)
            assert all(h.citation.filing_date <= cutoff for h in result.hits)
            reranked = [h.rerank is not None for h in result.hits]
            assert all(reranked) if stage == "fused+rerank" else not any(reranked)


def test_rerank_scores_are_the_hits_logits_best_first(
    conn: Connection, embedder: Any, reranker: Any
) -> None:
    r = Retriever(embedder, Tuning(mmr_lambda=1.0, rerank_candidates=12), reranker)
    r.load(conn)
    result = r.search(conn, SearchRequest(query=EMPLOYEES))
    scores = rerank_scores(result)
    assert len(scores) == len(result.hits) == 5
    assert "166,000" in result.hits[0].citation.text
    assert rerank_scores(retriever_search_without_reranker(conn, embedder)) == []


def retriever_search_without_reranker(conn: Connection, embedder: Any) -> Any:
    r = Retriever(embedder, Tuning())
    r.load(conn)
    return r.search(conn, SearchRequest(query=EMPLOYEES))
