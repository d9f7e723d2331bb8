"""Sentence embeddings with all-MiniLM-L6-v2 on onnxruntime (no torch at run time)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from appliance.nlp.paths import read_json, require
from appliance.nlp.sessions import create_session
from appliance.nlp.tokens import load_tokenizer, plan_batches, untruncated

BUILD_HINT = "run `make models` to build the embedder"


class Embedder:
    """``embed(texts)`` -> float32 ``(n, 384)`` unit vectors; ``count_tokens`` for chunkers.

    ``quantized`` picks the static int8 graph (the serving and indexing default: about twice
    the fp32 speed, and a text's vector does not depend on its batch) or the fp32 reference.
    Texts longer than ``max_tokens`` (256, as sentence-transformers) are truncated: chunkers
    should keep chunks within it using :meth:`count_tokens`.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        quantized: bool = True,
        threads: int = 1,
        max_batch: int = 32,
        max_batch_tokens: int = 32 * 256,
        spin: bool = False,
        hint: str = BUILD_HINT,
    ) -> None:
        manifest = read_json(model_dir / "manifest.json", hint)
        self.dims: int = int(manifest["dims"])
        self.max_tokens: int = int(manifest["max_tokens"])
        self.variant = "int8" if quantized else "fp32"
        self.name = f"{manifest['name']}@{self.variant}"
        # Identifies the exact graph (a rebuilt model gets new vectors, never stale cached ones).
        files = manifest.get("files", {})
        graph = files.get(f"model.{self.variant}.onnx", {}).get("sha256", "")
        self.fingerprint = f"{self.name}:{graph}"
        model = require(model_dir / f"model.{self.variant}.onnx", hint)
        tok_path = require(model_dir / "tokenizer.json", hint)
        self._session = create_session(model, threads, spin=spin)
        self._tokenizer = load_tokenizer(tok_path, self.max_tokens)
        self._counter = untruncated(tok_path)
        self._max_batch = max_batch
        self._max_batch_tokens = max_batch_tokens

    def count_tokens(self, text: str) -> int:
        """Tokens the model would see for ``text`` before truncation, [CLS] and [SEP] included."""
        return len(self._counter.encode(text).ids)

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        """:meth:`count_tokens` for many texts in one (parallel) tokenizer call."""
        return [len(e.ids) for e in self._counter.encode_batch(list(texts))]

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Truncated token ids per text (what :meth:`embed` feeds the model)."""
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised mean-pooled embeddings, one row per text, in input order."""
        out = np.zeros((len(texts), self.dims), np.float32)
        if not texts:
            return out
        ids = self.token_ids(texts)
        for batch in plan_batches(ids, self._max_batch, self._max_batch_tokens):
            (vectors,) = self._session.run(["embedding"], batch.feeds())
            out[batch.index] = vectors
        return out
