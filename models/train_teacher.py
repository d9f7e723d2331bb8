"""The sentiment teacher: all-mpnet-base-v2 (12 layers, 768 wide) fine-tuned, then its soft
labels on the unlabelled filing pool distilled into the served MiniLM (``train_sentiment.py``).

Build time only; three stages, each resumable from ``sentiment/work/``:

``cache``  the frozen lower ``FREEZE`` layers run once over every text the later stages need
           (tweets, the filing pool, the dev sets), int8 dynamic quantization on their
           Linear layers (1.5x faster on this CPU; the trained top layers see the same
           features at training and labelling time), stored fp16.
``train``  the top layers and a linear head on the tweets' training split plus the weakly
           labelled filing sentences (``finance_lexicon.weak_label``), class-weighted.
``label``  softmax logits of the teacher for the tweets' training split and the whole pool
           (``teacher_logits.npz``), and its dev figures.

``extend`` texts the ``cache`` stage has not seen (e.g. labelled texts added later), cached
           apart in ``teacher_cache_extra`` and read together with the main cache.

Usage: python models/train_teacher.py [cache|extend|train|label|all]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load as load_safetensors
from tokenizers import Tokenizer

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from sentiment_data import SEED  # noqa: E402
from teacher_weights import teacher_sources  # noqa: E402
from torch_mpnet import MPNetClassifier  # noqa: E402

WORK = HERE / "sentiment" / "work"
CACHE = HERE / "cache"
FREEZE = 9  # layers 0-8 frozen and cached; 9-11 and the head are trained
MAX_TOKENS = 64  # filing sentences average ~35 teacher tokens; few run past 64


class TeacherEncoder:
    def __init__(self) -> None:
        src = teacher_sources(CACHE)
        self.weights = load_safetensors(src["model.safetensors"])
        self.tokenizer = Tokenizer.from_str(src["tokenizer.json"].decode("utf-8"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)

    def model(self) -> MPNetClassifier:
        torch.manual_seed(SEED)
        m = MPNetClassifier()
        missing, _ = m.load_state_dict(self.weights, strict=False)
        assert set(missing) == {"classifier.weight", "classifier.bias"}, missing
        return m

    def ids(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts)]


class HiddenCache:
    """Per text, its (tokens, 768) fp16 input of layer ``FREEZE``; keyed by the text."""

    def __init__(self, path: Path) -> None:
        index = json.loads((path / "index.json").read_text())
        self.offsets: dict[str, tuple[int, int]] = {k: (v[0], v[1]) for k, v in index.items()}
        self.data = np.load(path / "hidden.npy", mmap_mode="r")

    def __getitem__(self, text: str) -> np.ndarray:
        start, n = self.offsets[text]
        return np.asarray(self.data[start : start + n], dtype=np.float32)

    def __contains__(self, text: str) -> bool:
        return text in self.offsets


class ChainCache:
    """The main cache and the ``extend`` stage's, read as one."""

    def __init__(self, parts: list[HiddenCache]) -> None:
        self.parts = parts

    def __getitem__(self, text: str) -> np.ndarray:
        for part in self.parts:
            if text in part:
                return part[text]
        raise KeyError(text)

    def __contains__(self, text: str) -> bool:
        return any(text in part for part in self.parts)


def open_cache() -> ChainCache:
    dirs = [WORK / "teacher_cache", WORK / "teacher_cache_extra"]
    return ChainCache([HiddenCache(d) for d in dirs if (d / "index.json").exists()])


def build_cache(texts: list[str], out: Path, threads: int) -> None:
    """Run the frozen layers over ``texts`` (deduplicated), longest first, no padding."""
    enc = TeacherEncoder()
    model = enc.model().eval()
    model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    uniq = sorted(set(texts))
    ids = enc.ids(uniq)
    lengths = np.array([len(i) for i in ids])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    out.mkdir(parents=True, exist_ok=True)
    hidden = np.lib.format.open_memmap(
        out / "hidden.tmp.npy", mode="w+", dtype=np.float16, shape=(int(offsets[-1]), 768)
    )
    groups: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        groups.setdefault(int(n), []).append(i)
    done, t0 = 0, time.perf_counter()
    with torch.inference_mode():
        for width in sorted(groups, reverse=True):
            members = groups[width]
            rows = max(1, 2048 // width)
            for s in range(0, len(members), rows):
                chunk = members[s : s + rows]
                x = torch.tensor([ids[i] for i in chunk])
                h = model.hidden_at(x, torch.ones_like(x), FREEZE).numpy().astype(np.float16)
                for r, i in enumerate(chunk):
                    hidden[offsets[i] : offsets[i + 1]] = h[r]
                done += len(chunk)
                if done % 2000 < len(chunk):
                    rate = done / (time.perf_counter() - t0)
                    print(f"  cache {done}/{len(uniq)} texts ({rate:.1f}/s)", flush=True)
    hidden.flush()
    del hidden
    (out / "hidden.tmp.npy").rename(out / "hidden.npy")
    index = {t: [int(offsets[i]), int(lengths[i])] for i, t in enumerate(uniq)}
    (out / "index.json").write_text(json.dumps(index))
    digest = hashlib.sha256("\n".join(uniq).encode()).hexdigest()
    print(f"  cached {len(uniq)} texts, {int(offsets[-1])} tokens, texts sha256 {digest}")


def cache_texts() -> list[str]:
    """Every text a later stage reads: tweets (all, dev included), the pool, the dev sets."""
    from sentiment_data import load_formal_dev, load_formal_set, load_labelled, load_tweets
    from sentiment_pool import WORK as POOL_WORK
    from sentiment_pool import read_pool

    tweets, _ = load_tweets()
    pool = [s.text for s in read_pool(POOL_WORK / "pool.jsonl")]
    from appliance.nlp.sentences import split_sentences

    formal = load_formal_set("dev")[0] + load_formal_dev()[0]
    sentences = [s for t in formal for s in split_sentences(t)]
    return tweets + pool + formal + sentences + load_labelled()[0]


TEACHER = "teacher-mpnet"


def train_teacher(log: list[str]) -> None:
    """Top layers + head on the student's labelled data (tweets, weak labels and the labelled
    formal training texts), 2 epochs."""
    from train_sentiment import Recipe, evaluate, prepare, train, training_set

    recipe = Recipe(TEACHER, freeze=FREEZE, lr=1e-4, epochs=2, labelled=True)
    _, data = prepare()
    cache = open_cache()
    t0 = time.perf_counter()
    texts, targets, counts = training_set(recipe, data)
    hs = [cache[t] for t in texts]
    model = TeacherEncoder().model()
    for name, p in model.named_parameters():
        p.requires_grad_(
            name.startswith("classifier")
            or any(name.startswith(f"encoder.layer.{i}.") for i in range(FREEZE, 12))
        )
    model = train(recipe, model, hs, targets, log)  # type: ignore[assignment]
    torch.save(model.state_dict(), WORK / f"{TEACHER}.pt")
    from train_sentiment import Run

    run = Run(recipe, model, {}, {}, counts, 0.0)
    evaluate(run, data, cache)  # type: ignore[arg-type]
    report = {
        "train_counts": counts,
        "dev_tweets": run.dev_tweets,
        "dev_formal": run.dev_formal,
        "seconds": round(time.perf_counter() - t0),
    }
    (WORK / f"{TEACHER}.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1), flush=True)


def label_pool() -> None:
    """The teacher's probabilities for the tweets' training split, the whole pool and the
    labelled formal training texts (a distilled recipe mixes them into those targets)."""
    from train_sentiment import logits_of, prepare, softmax

    _, data = prepare()
    cache = open_cache()
    model = TeacherEncoder().model()
    model.load_state_dict(torch.load(WORK / f"{TEACHER}.pt"))
    texts = sorted(
        set(data["train_texts"]) | set(data["pool_texts"]) | set(data["labelled"][0])  # type: ignore[call-overload, index]
    )
    t0 = time.perf_counter()
    probs = softmax(logits_of(model, [cache[t] for t in texts], FREEZE))
    np.savez(WORK / "teacher_probs.npz", texts=np.array(texts), probs=probs.astype(np.float32))
    print(f"labelled {len(texts)} texts ({time.perf_counter() - t0:.0f} s)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "stage", choices=["cache", "extend", "train", "label", "all"], default="all", nargs="?"
    )
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.stage in ("cache", "all"):
        t0 = time.perf_counter()
        build_cache(cache_texts(), WORK / "teacher_cache", args.threads)
        print(f"cache: {time.perf_counter() - t0:.0f} s", flush=True)
    if args.stage == "extend":
        # Texts added since the cache was built (e.g. new labelled texts), cached apart.
        have = open_cache()
        missing = sorted({t for t in cache_texts() if t not in have})
        print(f"extend: {len(missing)} texts not cached", flush=True)
        if missing:
            build_cache(missing, WORK / "teacher_cache_extra", args.threads)
    if args.stage in ("train", "all"):
        train_teacher([])
    if args.stage in ("label", "all"):
        label_pool()


if __name__ == "__main__":
    main()
