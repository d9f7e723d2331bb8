"""Sentiment quality, the committed model against the previous one, in the same run.

The previous model (``finsent-minilm-l6@1.0.0``, taken from git history into
``.bench-cache/``) is scored as it was served: token-weighted mean of its sentences, no
language check. The committed model is scored as it is served now (``SentimentModel``:
calibrated probabilities, the language check, the aggregation rule). Sets:

- tweets dev: the stratified 15% of the Twitter Financial News training file never trained on;
- formal dev: the blind-annotated formal set's dev half (recipe choices and calibration);
- formal test: its test half, never used for any choice (the headline).

Prints accuracy, macro-F1 and, for the committed model, expected calibration error (ECE),
with accuracy per source kind on the formal test set.

Usage: python tests/bench/bench_sentiment_quality.py [--no-test]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # runnable as a plain script from a source checkout
sys.path.insert(0, str(REPO / "models"))

from sentiment_data import (  # noqa: E402
    LABELS,
    ece,
    load_formal_set,
    load_tweets,
    macro_f1,
    stratified_split,
)

from appliance.nlp.sentences import split_sentences  # noqa: E402
from appliance.nlp.sentiment import SentimentModel  # noqa: E402

PREVIOUS = "06596e0"  # the commit that shipped finsent-minilm-l6 1.0.0
PREVIOUS_FILES = ("model.int8.onnx", "tokenizer.json", "manifest.json")


def previous_model_dir() -> Path:
    """The 1.0.0 artifacts, extracted once from git history."""
    out = REPO / ".bench-cache" / "sentiment-1.0.0"
    out.mkdir(parents=True, exist_ok=True)
    for name in PREVIOUS_FILES:
        path = out / name
        if not path.exists():
            blob = subprocess.run(
                ["git", "-C", str(REPO), "show", f"{PREVIOUS}:models/sentiment/{name}"],
                check=True,
                capture_output=True,
            ).stdout
            path.write_bytes(blob)
    return out


def previous_scores(model: SentimentModel, texts: list[str]) -> np.ndarray:
    """1.0.0 as served: each sentence scored, averaged weighted by its token count."""
    pieces = [split_sentences(t) or [t] for t in texts]
    flat = [s for p in pieces for s in p]
    probs = model.probabilities(flat)
    _, tokens = model._run(flat)  # the token counts 1.0 weighted by
    out = np.zeros((len(texts), len(LABELS)))
    start = 0
    for i, p in enumerate(pieces):
        rows = slice(start, start + len(p))
        out[i] = (probs[rows] * tokens[rows, None]).sum(0) / tokens[rows].sum()
        start += len(p)
    return out


def current_scores(model: SentimentModel, texts: list[str]) -> np.ndarray:
    return np.array([[r.scores[k] for k in LABELS] for r in model.score(texts)])


def line(name: str, y: np.ndarray, p: np.ndarray, calibration: bool) -> str:
    pred = p.argmax(1)
    text = f"acc {float((pred == y).mean()):.3f}  macro-F1 {macro_f1(y, pred):.3f}"
    return f"    {name:<28} {text}" + (f"  ECE {ece(p, y):.3f}" if calibration else "")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-test", action="store_true", help="skip the formal test set")
    args = ap.parse_args()
    previous = SentimentModel(previous_model_dir(), threads=2)
    current = SentimentModel(REPO / "models" / "sentiment", threads=2)
    tweets, ty = load_tweets()
    _, dev = stratified_split(ty)
    sets = {"tweets dev": ([tweets[i] for i in dev], ty[dev], None)}
    splits = ("dev",) if args.no_test else ("dev", "test")
    for split in splits:
        texts, y, kinds = load_formal_set(split)
        sets[f"formal {split}"] = (texts, y, kinds)
    print(f"sentiment quality: {previous.name} (previous) vs {current.name} (committed)")
    for name, (texts, y, kinds) in sets.items():
        p_old = previous_scores(previous, texts)
        p_new = current_scores(current, texts)
        print(f"  {name} ({len(y)} texts):")
        print(line(f"{previous.name}", y, p_old, True))
        print(line(f"{current.name}", y, p_new, True))
        acc_old = float((p_old.argmax(1) == y).mean())
        acc_new = float((p_new.argmax(1) == y).mean())
        print(f"    accuracy committed - previous: {acc_new - acc_old:+.3f}")
        if kinds is not None and name == "formal test":
            total = Counter(kinds)
            old_ok = Counter(k for k, a, b in zip(kinds, p_old.argmax(1), y, strict=True) if a == b)
            new_ok = Counter(k for k, a, b in zip(kinds, p_new.argmax(1), y, strict=True) if a == b)
            for kind in sorted(total):
                print(
                    f"    {kind:<14} n={total[kind]:<4} previous {old_ok[kind] / total[kind]:.2f}"
                    f"  committed {new_ok[kind] / total[kind]:.2f}"
                )


if __name__ == "__main__":
    main()
