"""Tokenization and length-aware batching shared by the embedder and the sentiment model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Encoding, Tokenizer


def load_tokenizer(path: Path, max_tokens: int) -> Tokenizer:
    """The tokenizer truncating at ``max_tokens`` (special tokens included), without padding.

    The tokenizer.json shipped with MiniLM hard-codes truncation and fixed padding at 128;
    both are replaced here whatever the file says. The object is never mutated afterwards,
    so threads may share it.
    """
    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(max_tokens)
    tok.no_padding()
    return tok


def untruncated(path: Path) -> Tokenizer:
    """A second tokenizer without truncation, for counting tokens."""
    tok = Tokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    return tok


@dataclass(frozen=True)
class Batch:
    """Rows ``index`` of the caller's list, padded to the longest row of this batch."""

    index: np.ndarray
    input_ids: np.ndarray
    attention_mask: np.ndarray

    def feeds(self) -> dict[str, np.ndarray]:
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask}


def plan_batches(
    ids: Sequence[Sequence[int]], max_batch: int, max_batch_tokens: int
) -> Iterator[Batch]:
    """Group rows of *equal* token length (longest first); no batch carries padding.

    A batch holds at most ``max_batch`` rows and ``max_batch_tokens`` tokens (always at least
    one row). Equal lengths matter for more than wasted compute: without padding the model's
    attention runs its unmasked (flash) kernel, and the int8 graph re-quantizes activations
    after every layer, so the last-bit differences between the masked and unmasked kernels
    would grow to ~1e-3 in the output. With one kernel for every row, a text's vector is the
    same whatever its batch mates (to ~1e-7).
    """
    groups: dict[int, list[int]] = {}
    for i, row in enumerate(ids):
        groups.setdefault(len(row), []).append(i)
    for width in sorted(groups, reverse=True):
        members = groups[width]
        rows = max(1, min(max_batch, max_batch_tokens // max(width, 1)))
        for start in range(0, len(members), rows):
            chunk = members[start : start + rows]
            input_ids = np.array([ids[i] for i in chunk], np.int64).reshape(len(chunk), width)
            mask = np.ones_like(input_ids)
            yield Batch(np.asarray(chunk, np.int64), input_ids, mask)


def padded(encodings: Sequence[Encoding]) -> dict[str, np.ndarray]:
    """Model feeds for rows of different lengths: right-padded ids and the attention mask
    (for models whose scores are compared within one call, like the reranker's)."""
    width = max((len(e.ids) for e in encodings), default=0)
    ids = np.zeros((len(encodings), width), np.int64)
    mask = np.zeros_like(ids)
    for i, e in enumerate(encodings):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask}
