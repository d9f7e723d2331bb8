"""What the torch encoders (``torch_bert`` student, ``torch_mpnet`` teacher) share.

Build time only. The two keep their own module trees, since parameter names must match each
model's Hugging Face state dict; the layer arithmetic and pooling are the same and live here.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class Dense(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.dense = nn.Linear(n_in, n_out)


class DenseNorm(nn.Module):
    """A projection followed by the residual's layer norm (attention and FFN outputs)."""

    def __init__(self, n_in: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(n_in, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)


def transformer_layer(
    x: torch.Tensor,
    bias: torch.Tensor,
    qkv: tuple[nn.Linear, nn.Linear, nn.Linear],
    out: nn.Linear,
    attn_norm: nn.LayerNorm,
    intermediate: nn.Linear,
    ffn_out: DenseNorm,
    heads: int,
    drop: nn.Module,
) -> torch.Tensor:
    """One post-norm encoder layer: self-attention (scores + ``bias``), then GELU FFN."""
    b, s, h = x.shape

    def split(t: torch.Tensor) -> torch.Tensor:
        return t.view(b, s, heads, h // heads).transpose(1, 2)

    q, k, v = (split(f(x)) for f in qkv)
    scores = q @ k.transpose(-1, -2) / math.sqrt(h // heads) + bias
    ctx = (drop(scores.softmax(-1)) @ v).transpose(1, 2).reshape(b, s, h)
    x = attn_norm(x + drop(out(ctx)))
    up = F.gelu(intermediate(x))
    return ffn_out.LayerNorm(x + drop(ffn_out.dense(up)))


def padding_bias(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive attention bias that hides padding keys."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * -10000.0


def mean_pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask[:, :, None].to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
