"""The passage reader: the reranking stage's default model, all-mpnet-base-v2 in static int8.

It embeds the question and each candidate passage (whole: passages are at most 256 MiniLM
tokens, within its 384) and scores them by cosine. A sentence encoder and not a cross-encoder,
but one trained on about a billion question/answer pairs: on the blind tune split it orders
the fused candidates better than the cross-encoder trained here on synthetic filing pairs
(README "Retrieval quality"). Built by ``make reader-model`` (``models/build_mpnet.py``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from appliance.nlp.embedder import Embedder

BUILD_HINT = (
    "run `make reader-model` to build the passage reader, or set `reader_dir` to an unpacked"
    " reader archive from a release"
)

# all-mpnet-base-v2 was trained with cosine x 20 as the logit of its contrastive loss
# (sentence-transformers' MultipleNegativesRankingLoss): its scores in those units.
LOGIT_SCALE = 20.0


class PassageReader:
    """``score(question, passages)`` -> float32 logits (20 x cosine), one per passage.

    A passage's vector does not depend on the question. The indexer's worker stores every
    indexed passage's vector (:mod:`appliance.rag.reading`) and a search passes the stored
    ones as ``known``; of the rest (passages not read yet), the last ``cache_size`` are kept
    (3 KB each), so only the question and passages not read lately go through the model.
    """

    def __init__(
        self, model_dir: Path, *, threads: int = 1, spin: bool = False, cache_size: int = 4096
    ) -> None:
        self._encoder = Embedder(model_dir, threads=threads, spin=spin, hint=BUILD_HINT)
        self.name = self._encoder.name
        self.fingerprint = self._encoder.fingerprint
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()  # searches run on several threads

    def encode(self, passages: Sequence[str]) -> np.ndarray:
        """Unit vectors of passages, one row each (what the indexer's worker stores)."""
        return self._encoder.embed(passages)

    def score(
        self,
        question: str,
        passages: Sequence[str],
        known: Mapping[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Logits of ``passages`` for ``question``; ``known``: passage vectors already at hand
        (stored at indexing), used instead of the model."""
        if not passages:
            return np.zeros(0, np.float32)
        known = dict(known or {})
        with self._lock:
            for p in passages:
                if p not in known and p in self._cache:
                    known[p] = self._cache[p]
                    self._cache.move_to_end(p)
        unread = [p for p in dict.fromkeys(passages) if p not in known]
        vectors = self._encoder.embed([question, *unread])
        fresh = dict(zip(unread, vectors[1:], strict=True))
        if self._cache_size:
            with self._lock:
                self._cache.update(fresh)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        matrix = np.stack([known[p] if p in known else fresh[p] for p in passages])
        return np.asarray(matrix @ vectors[0] * LOGIT_SCALE, np.float32)
