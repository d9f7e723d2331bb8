"""Merge the two blind annotations of the formal candidates into the formal dev and test sets.

The candidates (822 texts: 420 sentences from the shared filings' MD&A, risk factors, legal
proceedings and 8-K; 402 texts written in the style of earnings releases, news wires and
analyst notes, 70 of them multi-sentence, 15 with no language) were labelled by two
annotators working independently from ``GUIDELINE.md``. Only the texts both label alike
are kept. They are split in two, stratified by (label, source kind) with a fixed seed:
``dev`` (recipe choices, temperature calibration) and ``test`` (read once, for the headline).

Nothing in this set is ever trained on: ``sentiment_pool`` drops every candidate text (agreed
or not, and each of its sentences) from the unlabelled filing pool.

Usage: python models/formal_set.py BLIND_DIR   # reads candidates.jsonl, labels_{a,b}.jsonl
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "sentiment" / "data" / "formal"
LABELS = ("negative", "neutral", "positive")
SEED = 20251130
TEST_FRACTION = 0.5


def source_kind(source: str) -> str:
    """``mda``, ``risk``, ``legal``, ``8k`` for filing sentences; the style for written texts."""
    if source.startswith("written:"):
        return source.split(":", 1)[1]
    item = source.rsplit(":", 1)[1]
    return {
        "7": "mda",
        "part1_item2": "mda",
        "1A": "risk",
        "part2_item1a": "risk",
        "3": "legal",
        "part2_item1": "legal",
    }.get(item, "8k")


def cohen_kappa(a: list[str], b: list[str]) -> float:
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in LABELS) / (n * n)
    return (observed - expected) / (1 - expected)


def split(rows: list[dict[str, str]]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(dev, test): half of every (label, kind) stratum each, the odd one to dev."""
    rng = np.random.default_rng(SEED)
    strata: dict[tuple[str, str], list[dict[str, str]]] = {}
    for r in rows:
        strata.setdefault((r["label"], r["kind"]), []).append(r)
    dev: list[dict[str, str]] = []
    test: list[dict[str, str]] = []
    for k in sorted(strata):
        members = strata[k]
        order = rng.permutation(len(members))
        n_test = int(len(members) * TEST_FRACTION)
        test += [members[i] for i in order[:n_test]]
        dev += [members[i] for i in order[n_test:]]
    return sorted(dev, key=lambda r: r["id"]), sorted(test, key=lambda r: r["id"])


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("blind", type=Path)
    args = ap.parse_args()
    cands = {str(r["id"]): r for r in read_jsonl(args.blind / "candidates.jsonl")}
    la = {str(r["id"]): r for r in read_jsonl(args.blind / "labels_a.jsonl")}
    lb = {str(r["id"]): r for r in read_jsonl(args.blind / "labels_b.jsonl")}
    assert set(cands) == set(la) == set(lb), "label files do not cover the candidates"
    ids = sorted(cands)
    a = [str(la[i]["label"]) for i in ids]
    b = [str(lb[i]["label"]) for i in ids]
    annotations: list[dict[str, object]] = []
    agreed: list[dict[str, str]] = []
    for i, x, y in zip(ids, a, b, strict=True):
        c = cands[i]
        kind = source_kind(str(c["source"]))
        annotations.append(
            {
                "id": i,
                "text": c["text"],
                "source": c["source"],
                "label_a": x,
                "unsure_a": bool(la[i].get("unsure", False)),
                "label_b": y,
                "unsure_b": bool(lb[i].get("unsure", False)),
            }
        )
        if x == y:
            agreed.append(
                {
                    "id": i,
                    "text": str(c["text"]),
                    "label": x,
                    "source": str(c["source"]),
                    "kind": kind,
                }
            )
    dev, test = split(agreed)
    OUT.mkdir(parents=True, exist_ok=True)
    write_jsonl(OUT / "annotations.jsonl", annotations)
    write_jsonl(OUT / "dev.jsonl", dev)  # type: ignore[arg-type]
    write_jsonl(OUT / "test.jsonl", test)  # type: ignore[arg-type]
    shutil.copyfile(args.blind / "GUIDELINE.md", OUT / "GUIDELINE.md")
    by_kind = Counter(source_kind(str(cands[i]["source"])) for i in ids)
    agree_kind = Counter(r["kind"] for r in agreed)
    stats = {
        "candidates": len(ids),
        "agreed": len(agreed),
        "agreement": round(len(agreed) / len(ids), 4),
        "cohen_kappa": round(cohen_kappa(a, b), 4),
        "agreement_by_kind": {
            k: f"{agree_kind[k]}/{n} ({agree_kind[k] / n:.2f})" for k, n in sorted(by_kind.items())
        },
        "dev": len(dev),
        "test": len(test),
        "dev_labels": dict(Counter(r["label"] for r in dev)),
        "test_labels": dict(Counter(r["label"] for r in test)),
    }
    (OUT / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    print(json.dumps(stats, indent=1))


if __name__ == "__main__":
    main()
