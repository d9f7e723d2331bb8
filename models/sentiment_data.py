"""The sentiment data sets and the fixed dev split (no torch: tests import this too)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from appliance.nlp.normalize import normalize  # noqa: E402

LABELS = ("negative", "neutral", "positive")
TWEET_LABEL = {"0": 0, "1": 2, "2": 1}  # bearish -> negative, bullish -> positive, neutral
DATA = HERE / "sentiment" / "data"
SEED = 13
DEV_FRACTION = 0.15


def load_tweets() -> tuple[list[str], np.ndarray]:
    """Twitter Financial News (MIT), normalised as at inference, labels as LABELS indices."""
    with (DATA / "twitter-financial-news" / "train.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [normalize(r["text"]) for r in rows], np.array([TWEET_LABEL[r["label"]] for r in rows])


def load_formal_dev() -> tuple[list[str], np.ndarray]:
    """The hand-written formal dev sentences (never trained on)."""
    with (DATA / "formal_dev.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], np.array([LABELS.index(r["label"]) for r in rows])


def stratified_split(
    y: np.ndarray, frac: float = DEV_FRACTION, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, dev indices): ``frac`` of each class to dev, fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    dev: list[int] = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        dev += list(rng.choice(idx, round(len(idx) * frac), replace=False))
    dev_idx = np.sort(np.array(dev))
    train_idx = np.setdiff1d(np.arange(len(y)), dev_idx)
    return train_idx, dev_idx


def macro_f1(y: np.ndarray, pred: np.ndarray, labels: int = len(LABELS)) -> float:
    f1s = []
    for c in range(labels):
        tp = int(((pred == c) & (y == c)).sum())
        fp = int(((pred == c) & (y != c)).sum())
        fn = int(((pred != c) & (y == c)).sum())
        f1s.append(2 * tp / max(2 * tp + fp + fn, 1))
    return float(np.mean(f1s))


def ece(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the top-class probability, in equal-width bins."""
    conf, pred = probs.max(1), probs.argmax(1)
    out = 0.0
    for lo in np.linspace(0, 1, bins, endpoint=False):
        sel = (conf > lo) & (conf <= lo + 1 / bins)
        if sel.any():
            out += sel.mean() * abs(float((pred[sel] == y[sel]).mean()) - float(conf[sel].mean()))
    return round(float(out), 4)


FORMAL = DATA / "formal"


def load_formal_set(split: str) -> tuple[list[str], np.ndarray, list[str]]:
    """The blind-annotated formal set: texts, labels and source kinds of ``dev`` or ``test``.

    ``test`` is the headline, read once; choices are made on ``dev``.
    """
    rows = [
        json.loads(line)
        for line in (FORMAL / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return (
        [r["text"] for r in rows],
        np.array([LABELS.index(r["label"]) for r in rows]),
        [r["kind"] for r in rows],
    )


TRAIN = DATA / "train"


def load_labelled() -> tuple[list[str], np.ndarray, list[str]]:
    """The labelled formal training texts (``labelled_set.py``): texts, labels, kinds.

    One sentence each, as the appliance scores them: written texts of several sentences are
    left out, since their label (the guideline's section 4) is for the whole text. Kinds are
    ``filing`` or the written style. Empty before ``labelled_set.py`` has run.
    """
    from appliance.nlp.sentences import split_sentences

    texts: list[str] = []
    labels: list[int] = []
    kinds: list[str] = []
    for name, kind_of in (
        ("filing_labels.jsonl", lambda r: "filing"),
        ("written.jsonl", lambda r: str(r["style"])),
    ):
        path = TRAIN / name
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            if len(split_sentences(r["text"])) != 1:
                continue
            texts.append(r["text"])
            labels.append(LABELS.index(r["label"]))
            kinds.append(kind_of(r))
    return texts, np.array(labels, dtype=np.int64), kinds
