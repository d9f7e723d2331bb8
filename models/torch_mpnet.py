"""A minimal MPNet encoder in torch: the sentiment teacher (build time only, never served).

Parameter names match the Hugging Face ``MPNetModel`` state dict, so the all-mpnet-base-v2
safetensors load directly. MPNet differs from BERT in three ways that matter here: no
token-type embeddings, positions counted from ``padding_idx + 1`` (2), and a learned
relative-position bias (32 log-spaced buckets up to distance 128, one value per head) added
to every layer's attention scores.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch_blocks import Dense, DenseNorm, mean_pool, padding_bias, transformer_layer

PAD_ID = 1


def relative_buckets(length: int, buckets: int = 32, max_distance: int = 128) -> torch.Tensor:
    """(length, length) bucket index of key position minus query position (MPNet's scheme)."""
    pos = torch.arange(length)
    n = -(pos[None, :] - pos[:, None])
    half = buckets // 2
    ret = (n < 0).long() * half
    n = n.abs()
    exact = half // 2
    large = (
        exact
        + (
            torch.log(n.float().clamp(min=1) / exact)
            / math.log(max_distance / exact)
            * (half - exact)
        ).long()
    )
    large = large.clamp(max=half - 1)
    return ret + torch.where(n < exact, n, large)


class _Attn(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.q = nn.Linear(hidden, hidden)
        self.k = nn.Linear(hidden, hidden)
        self.v = nn.Linear(hidden, hidden)
        self.o = nn.Linear(hidden, hidden)


class _Attention(nn.Module):
    def __init__(self, hidden: int, eps: float) -> None:
        super().__init__()
        self.attn = _Attn(hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)


class _Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, inter: int, eps: float, dropout: float) -> None:
        super().__init__()
        self.attention = _Attention(hidden, eps)
        self.intermediate = Dense(hidden, inter)
        self.output = DenseNorm(inter, hidden, eps)
        self.heads = heads
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        a = self.attention.attn
        return transformer_layer(
            x,
            bias,
            (a.q, a.k, a.v),
            a.o,
            self.attention.LayerNorm,
            self.intermediate.dense,
            self.output,
            self.heads,
            self.drop,
        )


class _Embeddings(nn.Module):
    def __init__(self, vocab: int, hidden: int, max_pos: int, eps: float) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden, padding_idx=PAD_ID)
        self.position_embeddings = nn.Embedding(max_pos, hidden, padding_idx=PAD_ID)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        real = (ids != PAD_ID).long()
        pos = torch.cumsum(real, 1) * real + PAD_ID
        return self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings(pos))


class _Encoder(nn.Module):
    def __init__(self, layers: int, heads: int, **kw: float) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(heads=heads, **kw) for _ in range(layers))  # type: ignore[arg-type]
        self.relative_attention_bias = nn.Embedding(32, heads)


class MPNetClassifier(nn.Module):
    """MPNet + mean pooling + linear head; ``forward`` returns logits.

    ``hidden``/``start`` resume from a cached layer input, so frozen lower layers run once.
    """

    def __init__(
        self,
        labels: int = 3,
        vocab: int = 30527,
        hidden: int = 768,
        layers: int = 12,
        heads: int = 12,
        inter: int = 3072,
        max_pos: int = 514,
        eps: float = 1e-5,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.embeddings = _Embeddings(vocab, hidden, max_pos, eps)
        self.encoder = _Encoder(layers, heads, hidden=hidden, inter=inter, eps=eps, dropout=dropout)
        self.classifier = nn.Linear(hidden, labels)
        self.drop = nn.Dropout(dropout)

    def _bias(self, mask: torch.Tensor) -> torch.Tensor:
        s = mask.shape[1]
        rel = self.encoder.relative_attention_bias(relative_buckets(s)).permute(2, 0, 1)
        return rel[None] + padding_bias(mask, torch.float32)

    def hidden_at(self, ids: torch.Tensor, mask: torch.Tensor, stop: int) -> torch.Tensor:
        """The input of layer ``stop``."""
        x = self.embeddings(ids)
        bias = self._bias(mask)
        for layer in self.encoder.layer[:stop]:
            x = layer(x, bias)
        return x

    def pooled(
        self,
        ids: torch.Tensor | None,
        mask: torch.Tensor,
        start: int = 0,
        hidden: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = self.embeddings(ids) if hidden is None else hidden
        bias = self._bias(mask)
        for layer in self.encoder.layer[start:]:
            x = layer(x, bias)
        return mean_pool(x, mask)

    def forward(
        self,
        ids: torch.Tensor | None,
        mask: torch.Tensor,
        start: int = 0,
        hidden: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.classifier(self.drop(self.pooled(ids, mask, start, hidden)))
