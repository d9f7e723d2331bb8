"""A minimal BERT encoder in torch for training (build time only; the runtime uses ONNX).

Parameter names match the Hugging Face ``BertModel`` state dict, so the pretrained
safetensors weights load directly and the trained weights go back through
``bert_graph.build_bert`` to ONNX without torch's exporter.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch_blocks import Dense, DenseNorm, mean_pool, padding_bias, transformer_layer


class _Embeddings(nn.Module):
    def __init__(self, vocab: int, hidden: int, max_pos: int, eps: float) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(max_pos, hidden)
        self.token_type_embeddings = nn.Embedding(2, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.word_embeddings(ids) + self.position_embeddings(pos)[None]
        x = x + self.token_type_embeddings.weight[0]
        return self.LayerNorm(x)


class _SelfAttention(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)


class _Attention(nn.Module):
    def __init__(self, hidden: int, eps: float) -> None:
        super().__init__()
        self.self = _SelfAttention(hidden)
        self.output = DenseNorm(hidden, hidden, eps)


class _Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, inter: int, eps: float, dropout: float) -> None:
        super().__init__()
        self.attention = _Attention(hidden, eps)
        self.intermediate = Dense(hidden, inter)
        self.output = DenseNorm(inter, hidden, eps)
        self.heads = heads
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        sa, ao = self.attention.self, self.attention.output
        return transformer_layer(
            x,
            bias,
            (sa.query, sa.key, sa.value),
            ao.dense,
            ao.LayerNorm,
            self.intermediate.dense,
            self.output,
            self.heads,
            self.drop,
        )


class _Encoder(nn.Module):
    def __init__(self, layers: int, **kw: float) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(**kw) for _ in range(layers))  # type: ignore[arg-type]


class BertClassifier(nn.Module):
    """BERT + mean pooling (+ optional L2 norm) + linear head; ``forward`` returns logits."""

    def __init__(
        self,
        labels: int = 3,
        vocab: int = 30522,
        hidden: int = 384,
        layers: int = 6,
        heads: int = 12,
        inter: int = 1536,
        max_pos: int = 512,
        eps: float = 1e-12,
        dropout: float = 0.1,
        normalize: bool = False,
    ) -> None:
        super().__init__()
        self.embeddings = _Embeddings(vocab, hidden, max_pos, eps)
        self.encoder = _Encoder(
            layers, hidden=hidden, heads=heads, inter=inter, eps=eps, dropout=dropout
        )
        self.classifier = nn.Linear(hidden, labels)
        self.normalize = normalize
        self.drop = nn.Dropout(dropout)

    def pooled(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor,
        start: int = 0,
        hidden: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mean-pooled sentence vector; ``hidden``/``start`` resume from a cached layer input."""
        x = self.embeddings(ids) if hidden is None else hidden
        bias = padding_bias(mask, x.dtype)
        for layer in self.encoder.layer[start:]:
            x = layer(x, bias)
        pooled = mean_pool(x, mask)
        return F.normalize(pooled, dim=-1) if self.normalize else pooled

    def hidden_at(self, ids: torch.Tensor, mask: torch.Tensor, stop: int) -> torch.Tensor:
        """The input of layer ``stop`` (for caching the frozen lower layers)."""
        x = self.embeddings(ids)
        bias = padding_bias(mask, x.dtype)
        for layer in self.encoder.layer[:stop]:
            x = layer(x, bias)
        return x

    def forward(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor,
        start: int = 0,
        hidden: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.classifier(self.drop(self.pooled(ids, mask, start, hidden)))
