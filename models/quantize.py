"""Batch-independent int8 quantization of the encoder's projections.

Every ``MatMul`` with a constant 2-D weight becomes onnxruntime's ``MatMulNBits`` with 8-bit
weights (symmetric, one scale per block of ``block_size`` input features per output column).
With ``accuracy_level=4`` the kernel quantizes the *activations* to int8 as well, but per row
and per block, so each token's scale depends only on that token: a text's vector never depends
on its batch mates. (onnxruntime's dynamic quantization computes one activation scale for the
whole batch tensor, which is what makes its vectors shift with the batch.)

The packing follows the MatMulNBits contract: ``B`` is ``uint8 [N, K/block, block]``, scales
are ``float [N * K/block]``, and without ``zero_points`` the zero point is 128.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

MS = "com.microsoft"


def quantize_weight(w: np.ndarray, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``w`` is ``(K, N)``; returns packed ``uint8 (N, K/block, block)`` and ``float32`` scales."""
    k, n = w.shape
    if k % block_size:
        raise ValueError(f"K={k} is not a multiple of block_size={block_size}")
    blocks = w.T.reshape(n, k // block_size, block_size).astype(np.float64)
    amax = np.abs(blocks).max(axis=2, keepdims=True)
    scale = np.where(amax > 0, amax / 127.0, 1.0)
    q = np.clip(np.rint(blocks / scale), -127, 127).astype(np.int16) + 128
    return q.astype(np.uint8), scale.reshape(-1).astype(np.float32)


def dequantize_weight(packed: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Inverse of :func:`quantize_weight` (for tests and error reports): ``(K, N)`` float32."""
    n, nb, bs = packed.shape
    blocks = (packed.astype(np.float32) - 128.0) * scales.reshape(n, nb, 1)
    return blocks.reshape(n, nb * bs).T.copy()


def to_int8(
    model: onnx.ModelProto,
    block_size: int = 32,
    accuracy_level: int = 4,
    exclude: frozenset[str] = frozenset(),
) -> onnx.ModelProto:
    """A copy of ``model`` with constant-weight MatMuls rewritten to 8-bit ``MatMulNBits``.

    ``exclude`` holds MatMul node names to keep in fp32.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = {t.name: t for t in graph.initializer}
    used_elsewhere: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            used_elsewhere[name] = used_elsewhere.get(name, 0) + 1

    new_nodes: list[onnx.NodeProto] = []
    drop: set[str] = set()
    for node in graph.node:
        w_name = node.input[1] if node.op_type == "MatMul" else ""
        if node.op_type != "MatMul" or w_name not in inits or node.name in exclude:
            new_nodes.append(node)
            continue
        w = numpy_helper.to_array(inits[w_name])
        if w.ndim != 2 or w.shape[0] % block_size:
            new_nodes.append(node)
            continue
        k, n = w.shape
        packed, scales = quantize_weight(w, block_size)
        q_name, s_name = w_name + "_q8", w_name + "_scales"
        graph.initializer.extend(
            [numpy_helper.from_array(packed, q_name), numpy_helper.from_array(scales, s_name)]
        )
        if used_elsewhere[w_name] == 1:
            drop.add(w_name)
        new_nodes.append(
            helper.make_node(
                "MatMulNBits",
                [node.input[0], q_name, s_name],
                list(node.output),
                name=node.name + "_q8",
                domain=MS,
                K=k,
                N=n,
                bits=8,
                block_size=block_size,
                accuracy_level=accuracy_level,
            )
        )
    kept = [t for t in graph.initializer if t.name not in drop]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.node[:]
    graph.node.extend(new_nodes)
    if not any(o.domain == MS for o in out.opset_import):
        out.opset_import.append(helper.make_opsetid(MS, 1))
    return out


def matmul_inputs(model: onnx.ModelProto) -> dict[str, str]:
    """``{MatMul node name: activation input}`` for every MatMul with a constant 2-D weight."""
    inits = {t.name for t in model.graph.initializer}
    return {
        n.name: n.input[0]
        for n in model.graph.node
        if n.op_type == "MatMul" and n.input[1] in inits
    }


def with_outputs(model: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    """A copy of ``model`` that also returns the given intermediate tensors (for calibration)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    have = {o.name for o in out.graph.output}
    for name in names:
        if name not in have:
            out.graph.output.append(helper.make_empty_tensor_value_info(name))
    return out


def to_static_int8(
    model: onnx.ModelProto,
    stats: dict[str, tuple[np.ndarray, np.ndarray]],
    alpha: float | None = 0.75,
    smooth: frozenset[str] | None = None,
    exclude: frozenset[str] = frozenset(),
) -> onnx.ModelProto:
    """Static (calibrated) int8 in QDQ form, with optional SmoothQuant channel scaling.

    ``stats[x] = (lo, hi)``: per-channel min and max of MatMul input ``x`` over calibration
    text. Activations are quantized to uint8 with one fixed scale and zero point per tensor,
    weights to int8 per output column; onnxruntime fuses each ``DequantizeLinear -> MatMul``
    pair into an integer GEMM. Since every scale is a constant, a row's result never depends
    on the other rows of its batch.

    A few channels of BERT's activations are 5-10x larger than the rest, which wastes most of
    a per-tensor 8-bit range. For activations in ``smooth`` (default: all) with ``alpha`` set,
    channel k is divided by ``s_k = amax_k**alpha / wmax_k**(1-alpha)`` (a ``Mul`` by a
    constant before quantizing) and weight row k multiplied by it, which leaves the product
    unchanged and moves the outliers into the weights, quantized per column.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = {t.name: t for t in graph.initializer}
    targets = {k: v for k, v in matmul_inputs(model).items() if k not in exclude}
    # All MatMuls reading one activation share its quantization, so group weights by input.
    by_act: dict[str, list[np.ndarray]] = {}
    for node in graph.node:
        if node.name in targets:
            w = numpy_helper.to_array(inits[node.input[1]])
            by_act.setdefault(node.input[0], []).append(w)
    factors: dict[str, np.ndarray] = {}
    for x, ws in by_act.items():
        lo, hi = (v.astype(np.float64) for v in stats[x])
        if alpha is None or (smooth is not None and x not in smooth):
            factors[x] = np.ones_like(lo)
            continue
        wmax = np.max([np.abs(w).max(axis=1) for w in ws], axis=0).astype(np.float64)
        amax = np.maximum(np.maximum(-lo, hi), 1e-5)
        factors[x] = amax**alpha / np.maximum(wmax, 1e-5) ** (1.0 - alpha)

    new_nodes: list[onnx.NodeProto] = []
    extra: list[onnx.TensorProto] = []
    drop: set[str] = set()
    act_q: dict[str, str] = {}
    for node in graph.node:
        if node.name not in targets:
            new_nodes.append(node)
            continue
        x = node.input[0]
        s = factors[x]
        if x not in act_q:
            lo, hi = (v.astype(np.float64) for v in stats[x])
            lo_s, hi_s = min(float((lo / s).min()), 0.0), max(float((hi / s).max()), 0.0)
            scale = np.float32(max(hi_s - lo_s, 1e-8) / 255.0)
            zp = np.uint8(np.clip(np.rint(-lo_s / float(scale)), 0, 255))
            src = x
            if not np.all(s == 1.0):
                inv = x + "_inv_smooth"
                extra.append(numpy_helper.from_array((1.0 / s).astype(np.float32), inv))
                new_nodes.append(helper.make_node("Mul", [x, inv], [x + "_sm"], name=x + "_SM"))
                src = x + "_sm"
            s_name, z_name = x + "_act_scale", x + "_act_zp"
            extra += [
                numpy_helper.from_array(np.array(scale, np.float32), s_name),
                numpy_helper.from_array(np.array(zp, np.uint8), z_name),
            ]
            new_nodes.append(
                helper.make_node("QuantizeLinear", [src, s_name, z_name], [x + "_q"], name=x + "_Q")
            )
            new_nodes.append(
                helper.make_node(
                    "DequantizeLinear", [x + "_q", s_name, z_name], [x + "_dq"], name=x + "_DQ"
                )
            )
            act_q[x] = x + "_dq"
        w_name = node.input[1]
        w = numpy_helper.to_array(inits[w_name]).astype(np.float64) * s[:, None]
        amax_w = np.abs(w).max(axis=0)
        w_scale = np.where(amax_w > 0, amax_w / 127.0, 1.0)
        wq = np.clip(np.rint(w / w_scale), -127, 127).astype(np.int8)
        extra += [
            numpy_helper.from_array(wq, w_name + "_s8"),
            numpy_helper.from_array(w_scale.astype(np.float32), w_name + "_w_scale"),
            numpy_helper.from_array(np.zeros(w.shape[1], np.int8), w_name + "_w_zp"),
        ]
        drop.add(w_name)
        new_nodes.append(
            helper.make_node(
                "DequantizeLinear",
                [w_name + "_s8", w_name + "_w_scale", w_name + "_w_zp"],
                [w_name + "_wdq"],
                name=w_name + "_WDQ",
                axis=1,
            )
        )
        new_nodes.append(
            helper.make_node(
                "MatMul", [act_q[x], w_name + "_wdq"], list(node.output), name=node.name
            )
        )
    kept = [t for t in graph.initializer if t.name not in drop]
    del graph.initializer[:]
    graph.initializer.extend(kept + extra)
    del graph.node[:]
    graph.node.extend(new_nodes)
    return out


def quantize_embedding(model: onnx.ModelProto, prefix: str) -> onnx.ModelProto:
    """Store the token-embedding table (``Gather`` on an initializer named ``prefix*``) as int8.

    One scale per row (per token), symmetric: rows are dequantized right after the lookup, so
    the result depends only on the token. Cuts ~35 MB of MiniLM's 30522 x 384 fp32 table to
    ~11 MB, which is what lets the sentiment model be committed.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = {t.name: t for t in graph.initializer}
    new_nodes: list[onnx.NodeProto] = []
    drop: set[str] = set()
    for node in graph.node:
        table = node.input[0] if node.op_type == "Gather" else ""
        if not table.startswith(prefix) or table not in inits:
            new_nodes.append(node)
            continue
        w = numpy_helper.to_array(inits[table]).astype(np.float64)
        amax = np.abs(w).max(axis=1, keepdims=True)
        scale = np.where(amax > 0, amax / 127.0, 1.0)
        q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
        graph.initializer.extend(
            [
                numpy_helper.from_array(q, table + "_s8"),
                numpy_helper.from_array(scale.astype(np.float32), table + "_row_scale"),
            ]
        )
        drop.add(table)
        ids, y = node.input[1], node.output[0]
        new_nodes += [
            helper.make_node("Gather", [table + "_s8", ids], [y + "_s8"], name=y + "_gq"),
            helper.make_node("Cast", [y + "_s8"], [y + "_f"], name=y + "_cast", to=1),
            helper.make_node("Gather", [table + "_row_scale", ids], [y + "_sc"], name=y + "_gs"),
            helper.make_node("Mul", [y + "_f", y + "_sc"], [y], name=y + "_deq"),
        ]
    kept = [t for t in graph.initializer if t.name not in drop]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.node[:]
    graph.node.extend(new_nodes)
    return out
