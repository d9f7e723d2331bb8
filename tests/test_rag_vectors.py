"""The in-memory vector index against a brute-force numpy reference."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from appliance.rag.vectors import RowMeta, SearchFilter, VectorIndex, dequantize, quantize


def _data(n: int, seed: int = 7) -> tuple[list[RowMeta], np.ndarray]:
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    rows = [
        RowMeta(
            chunk_id=i + 1,
            company=int(rng.integers(1, 6)),
            day=int(rng.integers(10_000, 20_000)),
            form=int(rng.integers(1, 3)),
            section=int(rng.integers(1, 8)),
            filing=int(rng.integers(1, 40)),
        )
        for i in range(n)
    ]
    return rows, dequantize(quantize(vecs))


def _reference(
    rows: list[RowMeta], vecs: np.ndarray, q: np.ndarray, k: int, f: SearchFilter, dead: set[int]
) -> list[int]:
    keep = [
        i
        for i, r in enumerate(rows)
        if r.chunk_id not in dead
        and (f.companies is None or r.company in f.companies)
        and (f.max_day is None or r.day <= f.max_day)
        and (f.forms is None or r.form in f.forms)
        and (f.sections is None or r.section in f.sections)
        and (f.filings is None or r.filing in f.filings)
    ]
    scores = vecs[keep] @ q
    order = np.argsort(-scores, kind="stable")[:k]
    return [rows[keep[i]].chunk_id for i in order]


FILTERS = [
    SearchFilter(),
    SearchFilter(companies=frozenset({2})),
    SearchFilter(companies=frozenset({2, 4}), max_day=15_000),
    SearchFilter(max_day=12_000),
    SearchFilter(companies=frozenset({3}), max_day=16_000, forms=frozenset({1})),
    SearchFilter(sections=frozenset({1, 5}), filings=frozenset(range(1, 20))),
    SearchFilter(companies=frozenset({99})),
    SearchFilter(max_day=0),
]


@pytest.mark.parametrize("flt", FILTERS)
def test_search_matches_brute_force_with_filters(flt: SearchFilter) -> None:
    rows, vecs = _data(3000)
    index = VectorIndex(merge_min=500)
    # Load part, add the rest in pieces (tail segment and merges), remove some rows.
    index.load(rows[:1000], vecs[:1000])
    for start in range(1000, 3000, 400):
        index.add(rows[start : start + 400], vecs[start : start + 400])
    dead = {r.chunk_id for r in rows[::17]}
    index.remove(dead)
    rng = np.random.default_rng(1)
    for _ in range(5):
        q = rng.standard_normal(384).astype(np.float32)
        q /= np.linalg.norm(q)
        got = [c for c, _ in index.search(q, 10, flt)]
        assert got == _reference(rows, vecs, q, 10, flt, dead)


def test_k_results_come_back_when_k_rows_qualify() -> None:
    rows, vecs = _data(500)
    index = VectorIndex()
    index.load(rows, vecs)
    old = sorted(r.day for r in rows)[20]  # exactly 21 rows dated on or before
    hits = index.search(vecs[0], 21, SearchFilter(max_day=old))
    assert len(hits) == 21
    assert all(rows[c - 1].day <= old for c, _ in hits)
    assert index.search(vecs[0], 5, SearchFilter(max_day=old - 10**6)) == []


def test_int8_round_trip_keeps_cosine() -> None:
    rng = np.random.default_rng(3)
    v = rng.standard_normal((200, 384)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    back = dequantize(quantize(v))
    assert quantize(v).dtype == np.int8
    assert float(np.min(np.sum(v * back, axis=1))) > 0.999


def test_re_adding_and_vectors_for() -> None:
    rows, vecs = _data(50)
    index = VectorIndex()
    index.load(rows[:30], vecs[:30])
    index.add(rows[20:50], vecs[20:50])  # 20..29 already there: ignored
    assert len(index) == 50
    got = index.vectors_for([5, 45, 1])
    assert np.allclose(got, vecs[[4, 44, 0]])
    index.remove([5])
    assert 5 not in index.ids() and len(index) == 49
    index.compact()
    assert len(index) == 49 and 5 not in {c for c, _ in index.search(vecs[4], 5)}


def test_removing_unknown_or_removed_ids_keeps_the_count_exact() -> None:
    rows, vecs = _data(40)
    index = VectorIndex()
    index.load(rows[:20], vecs[:20])
    index.add(rows[20:30], vecs[20:30])  # in the tail, not merged
    index.remove([5, 25, 999, 1000])  # 999 and 1000 were never there
    assert len(index) == 28 == len(index.ids())
    index.remove([5, 25])  # already removed
    assert len(index) == 28 == len(index.ids())
    # A removed id re-added (SQLite can reuse a rowid): one live copy, the new vector.
    index.add([dataclasses.replace(rows[30], chunk_id=5)], vecs[30:31])
    assert len(index) == 29 == len(index.ids())
    assert np.allclose(index.vectors_for([5]), vecs[30:31])
    hits = [c for c, _ in index.search(vecs[30], 40)]
    assert hits.count(5) == 1 and len(hits) == 29
