"""What retrieval needs from an embedder (the models package provides the real one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["PassageScorer", "TextEmbedder"]


class TextEmbedder(Protocol):
    """Unit-length sentence vectors and the tokenizer's token counts."""

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...

    def count_tokens(self, text: str) -> int: ...


class PassageScorer(Protocol):
    """A model that reads a question with each passage: higher scores are more relevant."""

    name: str  # model and version, as /readyz shows it

    def score(self, question: str, passages: Sequence[str]) -> npt.NDArray[np.float32]: ...
