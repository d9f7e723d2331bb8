"""Sentiment quality, the committed model against the earlier ones, in the same run.

The earlier models come from git history (extracted into ``.bench-cache/``):
``finsent-minilm-l6@1.0.0`` is scored as it was served (token-weighted mean of its
sentences, no language check), the later ones as the committed model is: as served now
(``SentimentModel``: calibrated probabilities, the language check, the aggregation rule).
Sets:

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

# Earlier versions of finsent-minilm-l6 and the commits that shipped them.
PREVIOUS = {"1.0.0": "06596e0", "2.0.0": "1e8abf3", "2.1.0": "3a2c3ae"}
PREVIOUS_FILES = ("model.int8.onnx", "tokenizer.json", "manifest.json")


def previous_model_dir(version: str) -> Path:
    """An earlier version's artifacts, extracted once from git history."""
    out = REPO / ".bench-cache" / f"sentiment-{version}"
    out.mkdir(parents=True, exist_ok=True)
    for name in PREVIOUS_FILES:
        path = out / name
        if not path.exists():
            blob = subprocess.run(
                ["git", "-C", str(REPO), "show", f"{PREVIOUS[version]}:models/sentiment/{name}"],
                check=True,
                capture_output=True,
            ).stdout
            path.write_bytes(blob)
    return out


def token_weighted_scores(model: SentimentModel, texts: list[str]) -> np.ndarray:
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


def served_scores(model: SentimentModel, texts: list[str]) -> np.ndarray:
    return np.array([[r.scores[k] for k in LABELS] for r in model.score(texts)])


def line(name: str, y: np.ndarray, p: np.ndarray, calibration: bool) -> str:
    pred = p.argmax(1)
    text = f"acc {float((pred == y).mean()):.3f}  macro-F1 {macro_f1(y, pred):.3f}"
    return f"    {name:<28} {text}" + (f"  ECE {ece(p, y):.3f}" if calibration else "")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-test", action="store_true", help="skip the formal test set")
    args = ap.parse_args()
    models = [
        (
            SentimentModel(previous_model_dir(v), threads=2),
            token_weighted_scores if v == "1.0.0" else served_scores,  # 1.0.0 as it was served
        )
        for v in PREVIOUS
    ]
    models.append((SentimentModel(REPO / "models" / "sentiment", threads=2), served_scores))
    tweets, ty = load_tweets()
    _, dev = stratified_split(ty)
    sets = {"tweets dev": ([tweets[i] for i in dev], ty[dev], None)}
    splits = ("dev",) if args.no_test else ("dev", "test")
    for split in splits:
        texts, y, kinds = load_formal_set(split)
        sets[f"formal {split}"] = (texts, y, kinds)
    names = [m.name for m, _ in models]
    print(f"sentiment quality: {', '.join(names[:-1])} (earlier) vs {names[-1]} (committed)")
    for name, (texts, y, kinds) in sets.items():
        probs = [scores(m, texts) for m, scores in models]
        print(f"  {name} ({len(y)} texts):")
        for m, p in zip(names, probs, strict=True):
            print(line(m, y, p, True))
        acc = [float((p.argmax(1) == y).mean()) for p in probs]
        gains = ", ".join(
            f"{acc[-1] - a:+.3f} vs {n}" for n, a in zip(names[:-1], acc[:-1], strict=True)
        )
        print(f"    accuracy committed - earlier: {gains}")
        if kinds is not None and name == "formal test":
            total = Counter(kinds)
            ok = [
                Counter(k for k, a, b in zip(kinds, p.argmax(1), y, strict=True) if a == b)
                for p in probs
            ]
            print(f"    {'kind':<14} {'n':<6}" + "".join(f"{n.split('@')[-1]:>8}" for n in names))
            for kind in sorted(total):
                print(
                    f"    {kind:<14} {total[kind]:<6}"
                    + "".join(f"{c[kind] / total[kind]:>8.2f}" for c in ok)
                )


if __name__ == "__main__":
    main()
