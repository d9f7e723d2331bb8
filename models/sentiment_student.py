"""The served sentiment model's trainable form: MiniLM weights, its tokenizer, frozen-layer
features and the torch classifier (build time only; ``train_sentiment.py`` trains it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bert_graph import BertShape, build_bert  # noqa: E402
from build_embedder import fetch_wheel, read_sources, serving_tokenizer, session  # noqa: E402
from sentiment_data import LABELS, SEED, macro_f1  # noqa: E402
from torch_bert import BertClassifier  # noqa: E402

MAX_TOKENS = 128


class Encoder:
    """Pretrained weights, tokenizer, and cached frozen-layer outputs via onnxruntime."""

    def __init__(self) -> None:
        src = read_sources(fetch_wheel(HERE / "cache"))
        self.weights = {k: v for k, v in load(src["model.safetensors"]).items()}
        self.tokenizer = serving_tokenizer(src["tokenizer.json"])
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer_json = src["tokenizer.json"]

    def ids(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def hidden(self, texts: list[str], layers: int) -> list[np.ndarray]:
        """Per text, the (tokens, 384) input of layer ``layers`` (frozen part, run once)."""
        ids = self.ids(texts)
        if layers == 0:
            raise ValueError("freeze >= 1 expected")
        model = build_bert(self.weights, BertShape(layers=layers), hidden_only=True)
        sess = session(model)
        out: list[np.ndarray] = [np.empty(0)] * len(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        i = 0
        while i < len(order):
            width = len(ids[order[i]])
            group = [j for j in order[i : i + 64] if len(ids[j]) == width]
            feeds = {
                "input_ids": np.array([ids[j] for j in group], np.int64),
                "attention_mask": np.ones((len(group), width), np.int64),
            }
            (h,) = sess.run(["hidden"], feeds)
            for r, j in enumerate(group):
                out[j] = h[r]
            i += len(group)
        return out


def pad(hs: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(h) for h in hs)
    x = np.zeros((len(hs), width, hs[0].shape[1]), np.float32)
    m = np.zeros((len(hs), width), np.int64)
    for i, h in enumerate(hs):
        x[i, : len(h)] = h
        m[i, : len(h)] = 1
    return torch.from_numpy(x), torch.from_numpy(m)


def new_model(weights: dict[str, np.ndarray], freeze: int) -> BertClassifier:
    torch.manual_seed(SEED)
    model = BertClassifier(labels=len(LABELS))
    state = {k: torch.from_numpy(v.copy()) for k, v in weights.items() if k in model.state_dict()}
    missing, _ = model.load_state_dict(state, strict=False)
    assert set(missing) == {"classifier.weight", "classifier.bias"}, missing
    for name, p in model.named_parameters():
        trainable = name.startswith("classifier") or any(
            name.startswith(f"encoder.layer.{i}.") for i in range(freeze, 6)
        )
        p.requires_grad_(trainable)
    return model


def metrics(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    pred = probs.argmax(1)
    return {
        "accuracy": round(float((pred == y).mean()), 4),
        "macro_f1": round(macro_f1(y, pred), 4),
    }
