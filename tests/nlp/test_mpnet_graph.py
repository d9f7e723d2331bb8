"""The MPNet encoder graph (models/bert_graph.py, ``MPNET_BASE`` layout) against a plain numpy
MPNet written from its definition: small random weights, a padded batch, onnxruntime on CPU.

What this pins: the weight names, positions counted from after the padding index, the relative
-position bias (buckets by key minus query position, one table shared by every layer), the
padding mask, mean pooling and normalisation. The published weights are checked against the
torch teacher's encoder when the model is built (models/all-mpnet-base-v2 card).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "models"))

from bert_graph import MPNET_BASE, build_bert, relative_buckets

SHAPE = dataclasses.replace(MPNET_BASE, layers=2, hidden=16, heads=2, max_tokens=40)
VOCAB, INTER, MAX_POS, PAD = 30, 32, 44, 1


def weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    h, n = SHAPE.hidden, SHAPE.names
    w = {
        "embeddings.word_embeddings.weight": rng.normal(0, 1, (VOCAB, h)),
        "embeddings.position_embeddings.weight": rng.normal(0, 1, (MAX_POS, h)),
        "embeddings.LayerNorm.weight": rng.uniform(0.5, 1.5, h),
        "embeddings.LayerNorm.bias": rng.normal(0, 0.1, h),
        "encoder.relative_attention_bias.weight": rng.normal(0, 1, (SHAPE.relative_buckets, 2)),
    }
    for i in range(SHAPE.layers):
        p = f"encoder.layer.{i}."
        for name, (rows, cols) in {
            n.query: (h, h),
            n.key: (h, h),
            n.value: (h, h),
            n.attn_out: (h, h),
            n.up: (INTER, h),
            n.down: (h, INTER),
        }.items():
            w[p + name + ".weight"] = rng.normal(0, 0.3, (rows, cols))
            w[p + name + ".bias"] = rng.normal(0, 0.1, rows)
        for name in (n.attn_norm, n.out_norm):
            w[p + name + ".weight"] = rng.uniform(0.5, 1.5, h)
            w[p + name + ".bias"] = rng.normal(0, 0.1, h)
    return {k: v.astype(np.float32) for k, v in w.items()}


def layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + SHAPE.layer_norm_eps) * g + b


def bucket(rel: int, buckets: int = 32, max_distance: int = 128) -> int:
    """MPNet's bucket of ``rel`` = key position minus query position, from its definition."""
    half = buckets // 2
    out = half if rel > 0 else 0  # keys after the query get the upper half
    n, exact = abs(rel), half // 2
    if n < exact:
        return out + n
    large = exact + int(math.log(n / exact) / math.log(max_distance / exact) * (half - exact))
    return out + min(large, half - 1)


def reference(w: dict[str, np.ndarray], ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    h, heads, n = SHAPE.hidden, SHAPE.heads, SHAPE.names
    d = h // heads
    seq = ids.shape[1]
    pos = np.cumsum(mask, 1) * mask + PAD  # the padding index for padding, 2, 3, ... for tokens
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][pos]
    )
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    table = w["encoder.relative_attention_bias.weight"]
    rel = np.array([[table[bucket(k - q)] for k in range(seq)] for q in range(seq)])
    bias = rel.transpose(2, 0, 1)[None] + (1.0 - mask[:, None, None, :]) * -1e4
    erf = np.vectorize(math.erf)
    for i in range(SHAPE.layers):
        p = f"encoder.layer.{i}."

        def lin(t: np.ndarray, name: str, p: str = p) -> np.ndarray:
            return t @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(len(ids), seq, heads, d).transpose(0, 2, 1, 3)

        q, k, v = (split(lin(x, name)) for name in (n.query, n.key, n.value))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + bias
        att = np.exp(scores - scores.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        ctx = (att @ v).transpose(0, 2, 1, 3).reshape(len(ids), seq, h)
        x = layer_norm(
            x + lin(ctx, n.attn_out), w[p + n.attn_norm + ".weight"], w[p + n.attn_norm + ".bias"]
        )
        up = lin(x, n.up)
        up = 0.5 * up * (1 + erf(up / math.sqrt(2)))
        x = layer_norm(
            x + lin(up, n.down), w[p + n.out_norm + ".weight"], w[p + n.out_norm + ".bias"]
        )
    m = mask[:, :, None]
    pooled = (x * m).sum(1) / m.sum(1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_mpnet_graph_matches_the_reference_on_a_padded_batch() -> None:
    rng = np.random.default_rng(7)
    w = weights(rng)
    model = build_bert(w, SHAPE, normalize=True)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    lengths = [12, 9, 3]
    ids = np.full((3, 12), PAD, np.int64)
    mask = np.zeros((3, 12), np.int64)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(3, VOCAB, n)
        mask[row, :n] = 1
    got = sess.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
    want = reference(w, ids, mask)
    assert np.abs(got - want).max() < 1e-4
    # Unpadded (no mask branch): the same vector for the full-length row on its own.
    alone = sess.run(["embedding"], {"input_ids": ids[:1], "attention_mask": mask[:1]})[0]
    assert np.abs(alone - want[:1]).max() < 1e-4


def test_relative_buckets_follow_the_definition_at_every_distance_in_the_table() -> None:
    table = relative_buckets(300, 32, 128)
    for q in (0, 5, 150, 299):
        for k in range(300):
            assert table[q, k] == bucket(k - q), (q, k)
