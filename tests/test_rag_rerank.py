"""The reranking stage on real Apple filings: the real int8 models (the all-mpnet-base-v2
reader and the cross-encoder) reread the fused candidates, and point-in-time holds at every
ranking stage."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.db.connection import Connection
from appliance.nlp.paths import ModelPaths
from appliance.nlp.reader import PassageReader
from appliance.rag.retrieve import (
    CROSS_ENCODER_PRIOR,
    READER_PRIOR,
    Retriever,
    SearchRequest,
    Tuning,
    rerank_scores,
)
from appliance.rag.service import load_reranker, rerank_line, rerank_tuning
from appliance.settings import load_settings

EMPLOYEES = "How many employees does Apple have?"


@pytest.fixture
def conn(rag_conn: Any) -> Any:
    return rag_conn


STAGES = {
    "bm25": Tuning(dense_weight=0.0, rerank_candidates=0),
    "dense": Tuning(keyword_weight=0.0, rerank_candidates=0),
    "fused": Tuning(rerank_candidates=0),
    "fused+rerank": Tuning(rerank_candidates=12, rerank_prior=CROSS_ENCODER_PRIOR),
    "fused+reader": Tuning(rerank_candidates=8, rerank_prior=READER_PRIOR),
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
    conn: Connection, embedder: Any, reranker: Any, reader: Any, stage: str
) -> None:
    r = Retriever(embedder, STAGES[stage], reader if stage == "fused+reader" else reranker)
    r.load(conn)
    for cutoff in ("2024-08-02", "2025-05-01", "2025-08-01"):
        for query in (EMPLOYEES, "latest legal proceedings", "fiscal 2025 legal proceedings"):
            result = r.search(conn, SearchRequest(query=query, cutoff=cutoff, top_k=10))
            assert result.hits, (stage, cutoff, query)
            assert all(h.citation.filing_date <= cutoff for h in result.hits)
            reranked = [h.rerank is not None for h in result.hits]
            assert all(reranked) if stage.startswith("fused+") else not any(reranked)


@pytest.mark.parametrize(
    ("scorer", "tuning"),
    [
        (
            "reranker",
            Tuning(mmr_lambda=1.0, rerank_candidates=12, rerank_prior=CROSS_ENCODER_PRIOR),
        ),
        ("reader", Tuning(mmr_lambda=1.0, rerank_candidates=8, rerank_prior=READER_PRIOR)),
    ],
)
def test_rerank_scores_are_the_hits_logits_and_the_answer_comes_first(
    conn: Connection, embedder: Any, request: pytest.FixtureRequest, scorer: str, tuning: Tuning
) -> None:
    r = Retriever(embedder, tuning, request.getfixturevalue(scorer))
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


@pytest.mark.parametrize(
    ("model", "kind", "prior"),
    [("reader", "PassageReader", READER_PRIOR), ("cross-encoder", "Reranker", CROSS_ENCODER_PRIOR)],
)
def test_settings_pick_the_reranking_model_and_its_prior(
    tmp_path: Any, model: str, kind: str, prior: float
) -> None:
    settings = load_settings(
        data_dir=tmp_path, rerank_candidates=8, rerank_model=model, access_log=False
    )
    assert type(load_reranker(settings)).__name__ == kind
    assert rerank_tuning(settings) == Tuning(rerank_candidates=8, rerank_prior=prior)


def test_a_missing_reader_keeps_the_fused_order(tmp_path: Any) -> None:
    settings = load_settings(
        data_dir=tmp_path, models_dir=tmp_path / "models", rerank_candidates=8, access_log=False
    )
    assert load_reranker(settings) is None


def test_reader_dir_loads_a_reader_kept_outside_the_models_dir(tmp_path: Any, reader: Any) -> None:
    # The executable's bundle has no reader: a site unpacks the release's reader archive
    # anywhere and points reader_dir at it; the bundled models stay where they are.
    unpacked = tmp_path / "all-mpnet-base-v2"  # a link: the 113 MB need not be copied
    unpacked.symlink_to(ModelPaths.locate().reader, target_is_directory=True)
    bundle = tmp_path / "bundle-models"  # as in the executable: no all-mpnet-base-v2 inside
    bundle.mkdir()
    common = {"data_dir": tmp_path, "models_dir": bundle, "access_log": False}
    loaded = load_reranker(load_settings(reader_dir=unpacked, **common))
    assert isinstance(loaded, PassageReader)
    assert loaded.fingerprint == reader.fingerprint  # the same model, so stored vectors hold
    assert load_reranker(load_settings(**common)) is None
    # A wrong path keeps the fused order (the server still starts) and /readyz says so.
    wrong = load_settings(reader_dir=tmp_path / "nowhere", **common)
    assert load_reranker(wrong) is None
    assert rerank_line(wrong, None).startswith("; reranking off: the reader model is not loaded")


def test_readyz_says_whether_the_reranking_stage_runs(tmp_path: Any, reader: Any) -> None:
    off = load_settings(data_dir=tmp_path, rerank_candidates=0, access_log=False)
    on = load_settings(data_dir=tmp_path, access_log=False)  # on by default
    assert rerank_line(off, reader) == ""
    assert rerank_line(on, reader) == "; reranking the top 8 with all-mpnet-base-v2@int8"
    assert rerank_line(on, None).startswith("; reranking off: the reader model is not loaded")
    assert rerank_line(on, reader, 40).endswith("@int8 (reading passages ahead: 40 read)")
    # Replicas on PostgreSQL take turns: the one waiting says who reads.
    assert rerank_line(on, reader, 0, elsewhere=True).endswith(
        "@int8 (another replica is reading passages ahead)"
    )
