"""What retrieval needs from its models (the models package provides the real ones)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["PassageEncoder", "PassageScorer", "TextEmbedder", "content_key"]


def content_key(fingerprint: str, text: str) -> bytes:
    """The ``embedding_cache`` key of a model's vector of ``text``: a hash of the model's exact
    graph and the text, so a rebuilt model never reads another graph's vectors."""
    return hashlib.sha256(fingerprint.encode() + b"\0" + text.encode()).digest()[:16]


class TextEmbedder(Protocol):
    """Unit-length sentence vectors and the tokenizer's token counts."""

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...

    def count_tokens(self, text: str) -> int: ...


class PassageScorer(Protocol):
    """A model that reads a question with each passage: higher scores are more relevant."""

    name: str  # model and version, as /readyz shows it

    def score(self, question: str, passages: Sequence[str]) -> npt.NDArray[np.float32]: ...


@runtime_checkable
class PassageEncoder(Protocol):
    """A passage scorer whose passage side does not depend on the question (the reader).

    Its passage vectors are computed ahead of the questions and stored by content
    (:mod:`appliance.rag.reading`); a search hands the stored ones to :meth:`score` as
    ``known``, so only the question goes through the model.
    """

    name: str
    fingerprint: str  # the exact graph: the content keys of its stored vectors

    def encode(self, passages: Sequence[str]) -> npt.NDArray[np.float32]: ...

    def score(
        self,
        question: str,
        passages: Sequence[str],
        known: Mapping[str, npt.NDArray[np.float32]] | None = None,
    ) -> npt.NDArray[np.float32]: ...
