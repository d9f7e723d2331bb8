"""The reader's passage vectors read ahead (rag.reading): every indexed passage read once and
stored by content, searches reading them instead of running the model, and the indexer's
worker filling them in the background of a real app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from appliance.app import create_app
from appliance.db.connection import Connection, connect
from appliance.db.sqlite import SqliteSession
from appliance.rag.embedding import PassageEncoder
from appliance.rag.index import Indexer
from appliance.rag.reading import PassageVectors
from appliance.rag.retrieve import READER_PRIOR, Retriever, SearchRequest, Tuning
from tests.helpers import wait_until
from tests.support.rag import CountingEncoder, make_settings

EMPLOYEES = "How many employees does Apple have?"


def _texts(conn: Connection) -> list[str]:
    return [str(r[0]) for r in conn.execute("SELECT text FROM chunks ORDER BY id")]


def _retrieval(c: TestClient) -> str:
    return str(c.get("/readyz").json()["components"]["retrieval"]["detail"])


def test_the_fake_is_a_passage_encoder_and_the_reader_is_too(reader: Any) -> None:
    # Retriever picks the stored-vector path by this protocol: both must satisfy it.
    assert isinstance(CountingEncoder(), PassageEncoder)
    assert isinstance(reader, PassageEncoder)


def test_every_passage_is_read_once_and_a_restart_reads_nothing(
    rag_conn: Connection, embedder: Any
) -> None:
    db = SqliteSession(rag_conn)
    texts = _texts(rag_conn)
    enc = CountingEncoder()
    vectors = PassageVectors(enc, page=16)
    assert vectors.fill_all(db) == len(set(texts))
    assert sorted(enc.read) == sorted(set(texts))  # each distinct text once
    stored = vectors.stored(rag_conn, texts)
    assert set(stored) == set(texts)
    fresh = enc.encode(texts[:5])
    for t, v in zip(texts[:5], fresh, strict=True):
        assert float(stored[t] @ v) > 0.999  # int8 round trip keeps the direction
    assert vectors.fill(db) == 0  # walked to the end: nothing until new chunks come

    enc.read.clear()
    assert PassageVectors(enc).fill_all(db) == 0  # a restart walks again, reads nothing
    assert enc.read == []

    # Chunks indexed afterwards have higher ids: the same walker picks up only those.
    Indexer(embedder).run(db, items=["7"])
    new = set(_texts(rag_conn)) - set(texts)
    assert new
    assert vectors.fill_all(db) == len(new)
    assert set(enc.read) == new


def test_another_models_vectors_are_not_read(rag_conn: Connection) -> None:
    db = SqliteSession(rag_conn)
    PassageVectors(CountingEncoder()).fill_all(db)
    other = CountingEncoder()
    other.fingerprint = "counting:2"  # a rebuilt graph
    assert PassageVectors(other).stored(rag_conn, _texts(rag_conn)) == {}
    assert PassageVectors(other).fill_all(db) == len(set(_texts(rag_conn)))


def test_a_search_reads_stored_vectors_and_runs_only_the_question(
    rag_conn: Connection, embedder: Any, reader: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tuning = Tuning(mmr_lambda=1.0, rerank_candidates=8, rerank_prior=READER_PRIOR)
    unread = Retriever(embedder, tuning, reader)
    unread.passages = None  # the reader reads every candidate at query time
    unread.load(rag_conn)
    cold = unread.search(rag_conn, SearchRequest(query=EMPLOYEES))

    r = Retriever(embedder, tuning, reader)
    r.load(rag_conn)
    assert r.passages is not None
    r.passages.fill_all(SqliteSession(rag_conn))  # the template already has them: quick
    batches: list[int] = []
    encoder = reader._encoder
    real = encoder.embed
    monkeypatch.setattr(encoder, "embed", lambda texts: batches.append(len(texts)) or real(texts))
    warm = r.search(rag_conn, SearchRequest(query=EMPLOYEES))
    assert batches == [1]  # the question alone
    assert "166,000" in warm.hits[0].citation.text
    assert [h.chunk_id for h in warm.hits] == [h.chunk_id for h in cold.hits]
    for a, b in zip(warm.hits, cold.hits, strict=True):
        assert a.rerank == pytest.approx(b.rerank, abs=0.1)  # 20 x cosine, int8 vectors


def test_the_worker_reads_ahead_in_the_background_of_a_real_app(
    rag_data: Path, reader: Any
) -> None:
    # Forget the reader's stored vectors, as on an index built before the reader was on.
    vectors = PassageVectors(reader)
    conn = connect(rag_data / "appliance.sqlite3")
    try:
        texts = _texts(conn)
        keys = vectors.keys(texts)
        conn.executemany("DELETE FROM embedding_cache WHERE key = ?", [(k,) for k in keys])
        assert vectors.stored(conn, texts) == {}
        settings = make_settings(rag_data)
        assert (settings.rerank_candidates, settings.rerank_model) == (8, "reader")  # defaults
        with TestClient(create_app(settings)) as c:
            wait_until(lambda: c.get("/readyz").status_code == 200, message="not ready")
            seen: list[str] = []

            def all_read() -> bool:
                seen.append(_retrieval(c))
                return len(vectors.stored(conn, texts)) == len(set(texts))

            wait_until(all_read, timeout=120, message="the worker did not read every passage")
            assert "(reading passages ahead: 0 read)" in seen[0]
            # /readyz says it reads ahead until it is done (rerank_line's test has the wording).
            done = wait_until(
                lambda: "reading passages ahead" not in (d := _retrieval(c)) and d,
                message=lambda: f"/readyz still says: {_retrieval(c)}",
            )
            assert done.endswith("; reranking the top 8 with all-mpnet-base-v2@int8")
    finally:
        conn.close()
