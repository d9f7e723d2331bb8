"""The passage reader (all-mpnet-base-v2 int8, built by `make reader-model`): scores, and its
cache of passage vectors giving the same scores as reading afresh, from several threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from appliance.nlp.paths import ModelMissing, ModelPaths
from appliance.nlp.reader import PassageReader

QUESTION = "How many people does the company employ?"
PASSAGES = [
    "As of September 27, 2025, the Company had approximately 166,000 full-time equivalent "
    "employees.",
    "The Company's effective tax rate for 2025 was 15.6%.",
    "The Board of Directors declared a cash dividend of $0.26 per share.",
    "Net sales of iPhone increased during 2025 compared to 2024.",
]


class Counting:
    """Wraps the reader's encoder and records how many texts each call embedded."""

    def __init__(self, reader: PassageReader) -> None:
        self.inner = reader._encoder
        self.calls: list[int] = []
        reader._encoder = self  # type: ignore[assignment]

    def embed(self, texts: Any) -> np.ndarray:
        self.calls.append(len(texts))
        return self.inner.embed(texts)


def test_the_answering_passage_scores_highest(reader: PassageReader) -> None:
    scores = reader.score(QUESTION, PASSAGES)
    assert scores.dtype == np.float32 and scores.shape == (4,)
    assert int(np.argmax(scores)) == 0
    assert np.all(np.abs(scores) <= 20.0 + 1e-4)  # 20 x cosine
    assert reader.score(QUESTION, []).shape == (0,)


def test_cached_passages_score_exactly_as_read_afresh() -> None:
    reader = PassageReader(ModelPaths.locate().reader, threads=2, cache_size=3)
    counting = Counting(reader)
    first = reader.score(QUESTION, PASSAGES[:3])
    again = reader.score(QUESTION, PASSAGES[:3])
    assert np.array_equal(first, again)
    assert counting.calls == [4, 1]  # the second time only the question is read
    # A fourth passage evicts the least recently used one (PASSAGES[0]).
    reader.score(QUESTION, PASSAGES[3:])
    reader.score(QUESTION, PASSAGES[:2])
    assert counting.calls[2:] == [2, 2]
    fresh = PassageReader(ModelPaths.locate().reader, threads=2, cache_size=0)
    assert np.array_equal(reader.score(QUESTION, PASSAGES), fresh.score(QUESTION, PASSAGES))


def test_threads_sharing_one_reader_get_the_same_scores() -> None:
    reader = PassageReader(ModelPaths.locate().reader, threads=1, cache_size=2)
    want = reader.score(QUESTION, PASSAGES)
    questions = [QUESTION] * 12
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda q: reader.score(q, PASSAGES[::-1])[::-1], questions))
    assert all(np.array_equal(g, want) for g in got)


def test_a_missing_reader_names_the_make_target(tmp_path: Any) -> None:
    with pytest.raises(ModelMissing, match="make reader-model"):
        PassageReader(tmp_path)
