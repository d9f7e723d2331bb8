"""The passage reranker: a small cross-encoder that reads question and passage together.

Trained here (``models/train_reranker.py``, card in ``models/reranker/MODEL_CARD.md``), run
with onnxruntime in static int8 like the embedder. One call scores all the candidates of one
question as a single batch. The model reads at most ``max_tokens`` (question included), less
than a whole passage, so each passage is first cut to the window of whole sentences around
the sentence sharing most words with the question (:func:`window`): the reranker reads the
part that would answer, not the passage's first lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from appliance.nlp.paths import read_json, require
from appliance.nlp.sessions import create_session
from appliance.nlp.tokens import padded

_WORD = re.compile(r"[a-z0-9]+")
# Sentence ends, and table rows (one per line) as units of their own.
_UNIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9$(\u201c\"])|\n+")
_COMMON = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "and",
        "or",
        "to",
        "in",
        "on",
        "for",
        "by",
        "with",
        "at",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "its",
        "it",
        "this",
        "that",
        "what",
        "which",
        "who",
        "how",
        "much",
        "many",
        "did",
        "does",
        "do",
        "company's",
        "company",
    ]
)


def window(question: str, passage: str, chars: int) -> str:
    """The run of whole units (sentences, table rows) of ``passage`` around the one sharing
    most words with ``question``, at most about ``chars`` characters."""
    if len(passage) <= chars:
        return passage
    units = [u for u in _UNIT.split(passage) if u.strip()]
    if len(units) <= 1:
        return passage[:chars]
    q = set(_WORD.findall(question.lower())) - _COMMON
    overlap = [len(q & set(_WORD.findall(u.lower()))) for u in units]
    best = max(range(len(units)), key=lambda i: (overlap[i], -i))
    lo = hi = best
    size = len(units[best])
    while True:
        grew = False
        for j in (hi + 1, lo - 1):  # the next unit first: a figure's context tends to follow
            if 0 <= j < len(units) and size + len(units[j]) + 1 <= chars:
                size += len(units[j]) + 1
                lo, hi = min(lo, j), max(hi, j)
                grew = True
        if not grew:
            break
    return " ".join(units[lo : hi + 1])


BUILD_HINT = "the reranker is committed under models/reranker (make reranker-model retrains it)"


class Reranker:
    """``score(question, passages)`` -> float32 relevance logits, one per passage."""

    def __init__(self, model_dir: Path, *, threads: int = 1, spin: bool = False) -> None:
        manifest = read_json(model_dir / "manifest.json", BUILD_HINT)
        self.max_tokens: int = int(manifest["max_tokens"])
        self.window_chars: int = int(manifest["window_chars"])
        self.name = f"{manifest['name']}@{manifest['version']}"
        model = require(model_dir / "model.int8.onnx", BUILD_HINT)
        tok = Tokenizer.from_file(str(require(model_dir / "tokenizer.json", BUILD_HINT)))
        # A question longer than the budget is cut too, but only after the passage is gone.
        tok.enable_truncation(self.max_tokens, strategy="longest_first")
        tok.no_padding()
        self._tokenizer = tok
        self._session = create_session(model, threads, spin=spin)

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, np.float32)
        pairs = [(question, window(question, p, self.window_chars)) for p in passages]
        feeds = padded(self._tokenizer.encode_batch(pairs))
        (logits,) = self._session.run(["logits"], feeds)
        return np.asarray(logits[:, 0], np.float32)
