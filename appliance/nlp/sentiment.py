"""Financial sentiment (negative / neutral / positive) on onnxruntime, sentence by sentence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance.nlp.aggregate import sentence_weights
from appliance.nlp.language import NO_LANGUAGE_SCORES, has_language
from appliance.nlp.normalize import normalize
from appliance.nlp.paths import read_json, require
from appliance.nlp.sentences import split_sentences
from appliance.nlp.sessions import create_session
from appliance.nlp.tokens import load_tokenizer, plan_batches

MISSING_HINT = "the sentiment model is committed under models/sentiment/; check the checkout"


@dataclass(frozen=True)
class SentenceSentiment:
    text: str
    label: str
    scores: dict[str, float]
    weight: float  # its share of the text's scores (appliance.nlp.aggregate)


@dataclass(frozen=True)
class SentimentResult:
    """One input text: the aggregate label and scores, and the per-sentence results."""

    label: str
    scores: dict[str, float]
    sentences: list[SentenceSentiment]


class SentimentModel:
    """``score(texts)``: each text is split into sentences, each sentence scored on its own,
    and the text's scores follow from its sentences' by the rule of
    :mod:`appliance.nlp.aggregate` (outlook and bottom-line sentences outweigh boilerplate).

    The model's probabilities are calibrated (temperature scaling on the dev sets, folded
    into the graph). A sentence without language (:mod:`appliance.nlp.language`) is not run
    through the model: it scores ``NO_LANGUAGE_SCORES`` (neutral, no class above 0.6).

    All sentences of all texts in one call are batched together (rows of equal length, no
    padding), so a long document costs about what its sentences cost.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        threads: int = 1,
        max_batch: int = 64,
        max_batch_tokens: int = 64 * 64,
        spin: bool = False,
    ) -> None:
        manifest = read_json(model_dir / "manifest.json", MISSING_HINT)
        self.labels: tuple[str, ...] = tuple(manifest["labels"])
        self.name = f"{manifest['name']}@{manifest['version']}"
        self.max_tokens = int(manifest["max_tokens"])
        # Temperature scaling fitted on the dev sets (models/calibrate_sentiment.py): the
        # probabilities are softmax(logits / temperature). 1.0 when a model folds it in.
        self.temperature = float(manifest.get("temperature", 1.0))
        if not self.temperature > 0:
            raise ValueError(f"{model_dir}/manifest.json: temperature must be > 0")
        self._session = create_session(
            require(model_dir / "model.int8.onnx", MISSING_HINT), threads, spin=spin
        )
        self._tokenizer = load_tokenizer(
            require(model_dir / "tokenizer.json", MISSING_HINT), self.max_tokens
        )
        self._vocabulary = frozenset(self._tokenizer.get_vocab())
        self._no_language = np.array([NO_LANGUAGE_SCORES[k] for k in self.labels], np.float32)
        self._max_batch = max_batch
        self._max_batch_tokens = max_batch_tokens

    def probabilities(self, sentences: Sequence[str]) -> np.ndarray:
        """``(n, labels)`` calibrated class probabilities, one row per sentence (no splitting)."""
        logits, _ = self._run(sentences)
        z = logits / self.temperature
        e = np.exp(z - z.max(axis=1, keepdims=True))
        out: np.ndarray = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        return out

    def _run(self, sentences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Logits and token counts per sentence."""
        out = np.zeros((len(sentences), len(self.labels)), np.float32)
        if not sentences:
            return out, np.zeros(0, np.float32)
        encs = self._tokenizer.encode_batch([normalize(s) for s in sentences])
        ids = [e.ids for e in encs]
        for batch in plan_batches(ids, self._max_batch, self._max_batch_tokens):
            (logits,) = self._session.run(["logits"], batch.feeds())
            out[batch.index] = logits
        return out, np.array([len(i) for i in ids], np.float32)

    def score(self, texts: Sequence[str]) -> list[SentimentResult]:
        """One result per text, in order. A text with no words scores as neutral."""
        pieces = [split_sentences(t) for t in texts]
        flat = [s for p in pieces for s in p]
        words = [has_language(s, self._vocabulary) for s in flat]
        probs = np.tile(self._no_language, (len(flat), 1))
        with_words = [i for i, w in enumerate(words) if w]
        if with_words:
            probs[with_words] = self.probabilities([flat[i] for i in with_words])
        results: list[SentimentResult] = []
        start = 0
        neutral = self.labels.index("neutral")
        for sents in pieces:
            rows = probs[start : start + len(sents)]
            has_words = words[start : start + len(sents)]
            start += len(sents)
            if not sents:
                agg = self._no_language
                weights = np.zeros(0)
            else:
                weights = sentence_weights(sents, rows, has_words, neutral)
                agg = (rows * weights[:, None]).sum(0)
            results.append(
                SentimentResult(
                    label=self.labels[int(agg.argmax())],
                    scores=self._scores(agg),
                    sentences=[
                        SentenceSentiment(
                            s, self.labels[int(r.argmax())], self._scores(r), round(float(w), 6)
                        )
                        for s, r, w in zip(sents, rows, weights, strict=True)
                    ],
                )
            )
        return results

    def _scores(self, row: np.ndarray) -> dict[str, float]:
        return {label: round(float(p), 6) for label, p in zip(self.labels, row, strict=True)}
