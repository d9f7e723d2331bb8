"""Build a BERT encoder as an ONNX graph straight from its weights (numpy arrays, no torch).

The graph uses onnxruntime's fused CPU operators (MultiHeadAttention, SkipLayerNormalization,
BiasGelu from the ``com.microsoft`` domain) so no separate optimisation pass is needed. The
projections stay plain ``MatMul`` nodes with constant weights: ``quantize.py`` rewrites exactly
those into 8-bit ``MatMulNBits``.

Inputs: ``input_ids`` and ``attention_mask``, both int64 ``(batch, seq)``; token types are all
zero for single-sentence input, so the type-0 embedding is folded into the position table.
Outputs: ``embedding`` ``(batch, hidden)`` (mean-pooled over the mask, L2-normalised when
``normalize``), and, with a classifier head, ``logits`` and ``probs`` ``(batch, labels)``.

Weight names follow the Hugging Face ``BertModel`` state dict (``embeddings.*``,
``encoder.layer.N.*``), which is what the published safetensors file holds. ``MPNET_BASE``
builds an ``MPNetModel`` (all-mpnet-base-v2) from the same code: the same post-norm layer under
other weight names, positions counted from after the padding index, no token types, and one
relative-position attention bias (T5-style buckets) shared by every layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 18
MS = "com.microsoft"


@dataclass(frozen=True)
class LayerNames:
    """Where one layer's weights live, relative to ``encoder.layer.N.`` (BERT's names)."""

    query: str = "attention.self.query"
    key: str = "attention.self.key"
    value: str = "attention.self.value"
    attn_out: str = "attention.output.dense"
    attn_norm: str = "attention.output.LayerNorm"
    up: str = "intermediate.dense"
    down: str = "output.dense"
    out_norm: str = "output.LayerNorm"


@dataclass(frozen=True)
class BertShape:
    layers: int = 6
    hidden: int = 384
    heads: int = 12
    layer_norm_eps: float = 1e-12
    names: LayerNames = LayerNames()
    position_offset: int = 0  # the first token's position id (MPNet: after the padding index)
    token_types: bool = True  # BERT folds the type-0 embedding into the position table
    relative_buckets: int = 0  # MPNet's relative-position bias; 0: none
    relative_max_distance: int = 128
    max_tokens: int = 512  # the longest input the relative-bias table covers


MPNET_BASE = BertShape(
    layers=12,
    hidden=768,
    heads=12,
    layer_norm_eps=1e-5,
    names=LayerNames(
        query="attention.attn.q",
        key="attention.attn.k",
        value="attention.attn.v",
        attn_out="attention.attn.o",
        attn_norm="attention.LayerNorm",
    ),
    position_offset=2,
    token_types=False,
    relative_buckets=32,
    max_tokens=512,
)


def relative_buckets(length: int, buckets: int, max_distance: int) -> np.ndarray:
    """``(length, length)`` bucket of key position minus query position, as MPNet computes it
    (in float32, so the bucket edges fall where the published model's do)."""
    pos = np.arange(length)
    n = pos[:, None] - pos[None, :]  # query minus key
    half = buckets // 2
    ret = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    exact = half // 2
    scaled = (
        np.log(np.maximum(n, 1).astype(np.float32) / np.float32(exact))
        / np.float32(np.log(max_distance / exact))
        * np.float32(half - exact)
    )
    large = np.minimum(exact + scaled.astype(np.int64), half - 1)
    return ret + np.where(n < exact, n, large)


class _Graph:
    """Collects nodes and initializers; names are made unique by a running counter."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def const(self, stem: str, value: np.ndarray) -> str:
        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(
        self, op_type: str, inputs: list[str], stem: str, domain: str = "", **attrs: object
    ) -> str:
        out = self.name(stem)
        self.nodes.append(
            helper.make_node(op_type, inputs, [out], name=out + "_node", domain=domain, **attrs)
        )
        return out


def _attention(
    g: _Graph, qkvb: list[str], mask: str, no_pad: str, heads: int, rel_bias: str | None
) -> str:
    """MultiHeadAttention, without the padding mask when the batch has no padding.

    onnxruntime's CPU kernel takes a much faster (flash) path when it gets no mask: about a
    third less attention time on full 256-token chunks, the indexer's main load. Both
    branches compute the same function on an unpadded batch.
    """
    out = g.name("ctx")

    def branch(inputs: list[str], tag: str) -> onnx.GraphProto:
        node = helper.make_node(
            "MultiHeadAttention",
            inputs,
            [out + tag],
            name=out + tag + "_node",
            domain=MS,
            num_heads=heads,
        )
        return helper.make_graph(
            [node],
            out + tag,
            [],
            [helper.make_tensor_value_info(out + tag, TensorProto.FLOAT, None)],
        )

    g.nodes.append(
        helper.make_node(
            "If",
            [no_pad],
            [out],
            name=out + "_if",
            then_branch=branch(qkvb + (["", rel_bias] if rel_bias else []), "_full"),
            else_branch=branch([*qkvb, mask] + ([rel_bias] if rel_bias else []), "_masked"),
        )
    )
    return out


def build_bert(
    weights: dict[str, np.ndarray],
    shape: BertShape = BertShape(),
    *,
    normalize: bool = True,
    classifier: tuple[np.ndarray, np.ndarray] | None = None,
    prefix: str = "",
    hidden_only: bool = False,
) -> onnx.ModelProto:
    """Return the encoder graph; ``classifier`` is ``(weight (labels, hidden), bias (labels,))``.

    ``prefix`` is prepended to every weight name (``"bert."`` for a classification checkpoint).
    ``hidden_only`` returns the last layer's token states as ``hidden`` (no pooling): with
    ``shape.layers`` below the model's depth, that caches frozen lower layers for training.
    """
    g = _Graph()

    def w(key: str) -> np.ndarray:
        return np.asarray(weights[prefix + key], dtype=np.float32)

    h = shape.hidden
    eps = shape.layer_norm_eps

    # Embeddings: word + (position + token-type 0), then LayerNorm.
    word = g.const("word_emb", w("embeddings.word_embeddings.weight"))
    pos_table = w("embeddings.position_embeddings.weight")[shape.position_offset :]
    if shape.token_types:
        pos_table = pos_table + w("embeddings.token_type_embeddings.weight")[0]
    pos = g.const("pos_emb", pos_table)
    tok = g.op("Gather", [word, "input_ids"], "tok_emb")
    ids_shape = g.op("Shape", ["input_ids"], "ids_shape")
    seq = g.op(
        "Slice",
        [
            ids_shape,
            g.const("one", np.array([1], np.int64)),
            g.const("two", np.array([2], np.int64)),
        ],
        "seq_len",
    )
    pos_slice = g.op(
        "Slice",
        [
            pos,
            g.const("zero", np.array([0], np.int64)),
            seq,
            g.const("ax0", np.array([0], np.int64)),
        ],
        "pos_slice",
    )
    emb = g.op("Add", [tok, pos_slice], "emb")
    x = g.op(
        "LayerNormalization",
        [
            emb,
            g.const("emb_ln_g", w("embeddings.LayerNorm.weight")),
            g.const("emb_ln_b", w("embeddings.LayerNorm.bias")),
        ],
        "emb_ln",
        axis=-1,
        epsilon=eps,
    )

    mask_i32 = g.op("Cast", ["attention_mask"], "mask_i32", to=TensorProto.INT32)
    # True when no row of the batch is padded (see _attention).
    no_pad = g.op(
        "Equal",
        [
            g.op("ReduceMin", [mask_i32], "mask_min", keepdims=0),
            g.const("one_i32", np.array(1, np.int32)),
        ],
        "no_pad",
    )

    rel_bias = _relative_bias(g, w, shape, seq) if shape.relative_buckets else None
    names = shape.names
    for i in range(shape.layers):
        p = f"encoder.layer.{i}."
        # Separate Q, K and V GEMMs rather than one fused GEMM + Split: the Split copies the
        # whole tensor, and after quantization the three GEMMs share one quantized input.
        q, k, v = (
            g.op(
                "MatMul",
                [x, g.const(f"l{i}_{n}_w", w(p + f"{name}.weight").T)],
                f"l{i}_{n}",
            )
            for n, name in (("query", names.query), ("key", names.key), ("value", names.value))
        )
        qkv_b = np.concatenate([w(p + f"{n}.bias") for n in (names.query, names.key, names.value)])
        ctx = _attention(
            g, [q, k, v, g.const(f"l{i}_qkv_b", qkv_b)], mask_i32, no_pad, shape.heads, rel_bias
        )
        attn = g.op(
            "MatMul",
            [ctx, g.const(f"l{i}_ao_w", w(p + f"{names.attn_out}.weight").T)],
            f"l{i}_ao",
        )
        x = g.op(
            "SkipLayerNormalization",
            [
                attn,
                x,
                g.const(f"l{i}_ln1_g", w(p + f"{names.attn_norm}.weight")),
                g.const(f"l{i}_ln1_b", w(p + f"{names.attn_norm}.bias")),
                g.const(f"l{i}_ao_b", w(p + f"{names.attn_out}.bias")),
            ],
            f"l{i}_ln1",
            domain=MS,
            epsilon=eps,
        )
        up = g.op("MatMul", [x, g.const(f"l{i}_up_w", w(p + f"{names.up}.weight").T)], f"l{i}_up")
        act = g.op(
            "BiasGelu",
            [up, g.const(f"l{i}_up_b", w(p + f"{names.up}.bias"))],
            f"l{i}_gelu",
            domain=MS,
        )
        down = g.op(
            "MatMul", [act, g.const(f"l{i}_down_w", w(p + f"{names.down}.weight").T)], f"l{i}_down"
        )
        x = g.op(
            "SkipLayerNormalization",
            [
                down,
                x,
                g.const(f"l{i}_ln2_g", w(p + f"{names.out_norm}.weight")),
                g.const(f"l{i}_ln2_b", w(p + f"{names.out_norm}.bias")),
                g.const(f"l{i}_down_b", w(p + f"{names.down}.bias")),
            ],
            f"l{i}_ln2",
            domain=MS,
            epsilon=eps,
        )

    if hidden_only:
        g.nodes.append(helper.make_node("Identity", [x], ["hidden"], name="hidden_out"))
        return _model(
            g, [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "seq", h])]
        )

    # Mean pooling over real tokens (sentence-transformers' Pooling with mean tokens).
    mask_f = g.op("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    mask3 = g.op("Unsqueeze", [mask_f, g.const("ax2", np.array([2], np.int64))], "mask3")
    summed = g.op(
        "ReduceSum",
        [g.op("Mul", [x, mask3], "masked"), g.const("ax1", np.array([1], np.int64))],
        "summed",
        keepdims=0,
    )
    count = g.op(
        "ReduceSum", [mask_f, g.const("ax1b", np.array([1], np.int64))], "count", keepdims=1
    )
    count = g.op("Max", [count, g.const("min_count", np.array(1e-9, np.float32))], "count_clip")
    pooled = g.op("Div", [summed, count], "pooled")

    outputs = []
    if normalize:
        # F.normalize(p=2, eps=1e-12) as in sentence-transformers' Normalize module.
        norm = g.op(
            "ReduceL2", [pooled, g.const("ax_last", np.array([-1], np.int64))], "norm", keepdims=1
        )
        norm = g.op("Max", [norm, g.const("eps", np.array(1e-12, np.float32))], "norm_clip")
        pooled = g.op("Div", [pooled, norm], "normalized")
    g.nodes.append(helper.make_node("Identity", [pooled], ["embedding"], name="embedding_out"))
    outputs.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", h]))

    if classifier is not None:
        cw, cb = classifier
        n_labels = cw.shape[0]
        logits = g.op(
            "Gemm",
            [
                pooled,
                g.const("cls_w", cw.astype(np.float32)),
                g.const("cls_b", cb.astype(np.float32)),
            ],
            "logits_raw",
            transB=1,
        )
        g.nodes.append(helper.make_node("Identity", [logits], ["logits"], name="logits_out"))
        g.nodes.append(helper.make_node("Softmax", [logits], ["probs"], name="probs_out", axis=-1))
        outputs.append(
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", n_labels])
        )
        outputs.append(
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", n_labels])
        )

    return _model(g, outputs)


def _relative_bias(g: _Graph, w: Callable[[str], np.ndarray], shape: BertShape, seq: str) -> str:
    """MPNet's ``(1, heads, seq, seq)`` attention bias: a learned value per head and bucket of
    relative distance, looked up through a constant bucket table cut to the input's length."""
    table = relative_buckets(shape.max_tokens, shape.relative_buckets, shape.relative_max_distance)
    zero2 = g.const("rel_zero", np.array([0, 0], np.int64))
    ends = g.op("Concat", [seq, seq], "rel_ends", axis=0)
    idx = g.op("Slice", [g.const("rel_idx", table), zero2, ends], "rel_idx_s")
    per_pair = g.op(
        "Gather", [g.const("rel_w", w("encoder.relative_attention_bias.weight")), idx], "rel_g"
    )  # (seq, seq, heads)
    heads_first = g.op("Transpose", [per_pair], "rel_t", perm=[2, 0, 1])
    return g.op("Unsqueeze", [heads_first, g.const("rel_ax0", np.array([0], np.int64))], "rel_bias")


def _model(g: _Graph, outputs: list[onnx.ValueInfoProto]) -> onnx.ModelProto:
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
    ]
    graph = helper.make_graph(g.nodes, "bert_encoder", inputs, outputs, g.inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS, 1)],
        producer_name="appliance-models",
    )
    model.ir_version = 8
    return model
