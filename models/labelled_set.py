"""The labelled formal training set (issue 12): what the tweets cannot teach.

Two parts, both labelled from the formal set's written guideline
(``sentiment/data/formal/GUIDELINE.md``) by annotators who never saw the formal dev or
test texts:

``filing_labels.jsonl``  2,400 sentences drawn from the unlabelled filing pool
                         (``sentiment_pool.py``; stratified: half MD&A, the rest risk
                         factors, legal proceedings, business and notes), one label each.
``written.jsonl``        3,000 texts written for training in the styles the appliance's
                         users score (earnings releases, news wires, analyst notes, MD&A,
                         risk factors, legal proceedings; some multi-sentence, a few with no
                         language), each with its label and style.

Guards against leaking the evaluation set into training: every text (and every sentence of
it) whose normalised form equals a formal candidate or one of its sentences is dropped, and
so is any text that shares most of its word 4-grams with one (``near_duplicate``); the
counts are printed and kept in ``stats.json``.

``--add FILE`` appends a later batch of written texts (same fields) to ``written.jsonl``
through the same guards, plus a check against the sentiment API's regression texts, so a
probe the HTTP tests score is never trained on.

Usage: python models/labelled_set.py LABEL_DIR   # pool_sample_{a,b}, labels_{a,b}, written_w{1,2}
       python models/labelled_set.py --add FILE  # e.g. written_w3.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from formal_set import read_jsonl, write_jsonl  # noqa: E402
from sentiment_pool import exclude_texts, held_out_keys, key  # noqa: E402

from appliance.nlp.sentences import split_sentences  # noqa: E402

OUT = HERE / "sentiment" / "data" / "train"
LABELS = ("negative", "neutral", "positive")
_WORD = re.compile(r"[a-z0-9]+")
NEAR = 0.5  # share of a text's word 4-grams found in one held-out text


def grams(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


class HeldOut:
    """The formal evaluation texts, for exact and near-duplicate checks."""

    def __init__(self, texts: list[str]) -> None:
        self.keys = held_out_keys(texts)
        self.index: dict[tuple[str, ...], set[int]] = {}
        self.sizes: list[int] = []
        for i, t in enumerate(texts):
            g = grams(t)
            self.sizes.append(len(g))
            for x in g:
                self.index.setdefault(x, set()).add(i)

    def exact(self, text: str) -> bool:
        return key(text) in self.keys or any(key(s) in self.keys for s in split_sentences(text))

    def near_duplicate(self, text: str) -> bool:
        g = grams(text)
        hits: Counter[int] = Counter()
        for x in g:
            hits.update(self.index.get(x, ()))
        return any(n / max(1, min(len(g), self.sizes[i])) >= NEAR for i, n in hits.items())


# The texts the sentiment API's HTTP regression tests score (tests/test_sentiment_api.py):
# training on them, or on near copies, would make those tests pass by rote.
API_PROBES = (
    "Operating margin expanded to 30%.",
    "Operating expenses decreased 8%, driving higher profitability.",
    "The auditor expressed substantial doubt about the company's ability to continue as a "
    "going concern.",
    "Revenue rose 5% in the quarter. But guidance was cut sharply.",
    "12312 ;;; zzz",
)


class Guard:
    """Drops (and counts) texts that are, or nearly are, held-out evaluation texts."""

    def __init__(self) -> None:
        self.held = HeldOut([*exclude_texts(), *API_PROBES])
        self.dropped: Counter[str] = Counter()

    def keep(self, text: str) -> bool:
        if self.held.exact(text):
            self.dropped["exact"] += 1
            return False
        if self.held.near_duplicate(text):
            self.dropped["near"] += 1
            return False
        return True


def written_rows(path: Path, guard: Guard, seen: set[str]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for r in read_jsonl(path):
        text = str(r["text"]).strip()
        assert str(r["label"]) in LABELS, r
        if key(text) in seen or not guard.keep(text):
            continue
        seen.add(key(text))
        out.append({"id": r["id"], "text": text, "label": r["label"], "style": r["style"]})
    return out


def write_stats(
    filings: list[dict[str, object]], written: list[dict[str, object]], dropped: Counter[str]
) -> None:
    stats = {
        "filing_sentences": len(filings),
        "filing_labels": dict(Counter(str(r["label"]) for r in filings)),
        "written": len(written),
        "written_labels": dict(Counter(str(r["label"]) for r in written)),
        "written_styles": dict(Counter(str(r["style"]) for r in written)),
        "dropped_as_held_out": dict(dropped),
    }
    (OUT / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    print(json.dumps(stats, indent=1))


def add(path: Path) -> None:
    """Append a later batch of written texts to ``written.jsonl``."""
    guard = Guard()
    written = read_jsonl(OUT / "written.jsonl")
    ids = {str(r["id"]) for r in written}
    seen = {key(str(r["text"])) for r in written}
    new = written_rows(path, guard, seen)
    assert not ids & {str(r["id"]) for r in new}, "ids already used"
    write_jsonl(OUT / "written.jsonl", written + new)
    print(f"added {len(new)} of {len(read_jsonl(path))} ({dict(guard.dropped)} held out)")
    before = json.loads((OUT / "stats.json").read_text())["dropped_as_held_out"]
    dropped = Counter(before) + guard.dropped
    write_stats(read_jsonl(OUT / "filing_labels.jsonl"), written + new, dropped)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", type=Path, nargs="?")
    ap.add_argument("--add", type=Path, metavar="FILE", help="append written texts")
    args = ap.parse_args()
    if args.add:
        add(args.add)
        return
    guard = Guard()
    keep = guard.keep

    filings: list[dict[str, object]] = []
    for part in ("a", "b"):
        sample = read_jsonl(args.src / f"pool_sample_{part}.jsonl")
        labels = {
            str(r["id"]): str(r["label"]) for r in read_jsonl(args.src / f"labels_{part}.jsonl")
        }
        assert {str(r["id"]) for r in sample} == set(labels), (
            f"labels_{part} do not cover the sample"
        )
        for r in sample:
            label = labels[str(r["id"])]
            assert label in LABELS, label
            if keep(str(r["text"])):
                filings.append({**r, "label": label, "annotator": part})

    written: list[dict[str, object]] = []
    seen: set[str] = set()
    for part in ("w1", "w2"):
        written += written_rows(args.src / f"written_{part}.jsonl", guard, seen)

    OUT.mkdir(parents=True, exist_ok=True)
    write_jsonl(OUT / "filing_labels.jsonl", filings)
    write_jsonl(OUT / "written.jsonl", written)
    write_stats(filings, written, guard.dropped)


if __name__ == "__main__":
    main()
