"""Every sentence of every shared SEC filing: the pool for weak labels and distillation.

Build-time only. The filings are the shared EDGAR sample as this repository carries it
(``tests/data/edgar/filings``, gzipped copies of ``../shared/data/edgar/filings``, so a fresh
clone rebuilds the same pool; an accession found twice is read once). Each is parsed with
the appliance's own filing parser (``appliance.edgar.filing``: Items, tag-stripped and SGML
formats), every section split with
the appliance's own sentence splitter, and the sentences kept if they read like prose (enough
words, mostly letters; not a table row, a page header or an exhibit list).

The formal evaluation texts are held out of the pool: any sentence whose normalised form
(lower case, letters and digits only) equals one of them, or one of their sentences, is
dropped. That is every annotated candidate (``data/formal/annotations.jsonl``: the dev and
test sets and the texts the annotators disagreed on) and the hand-written ``formal_dev.csv``.

Usage: python models/sentiment_pool.py   # writes sentiment/work/pool.jsonl, prints counts
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from finance_lexicon import swap_direction  # noqa: E402

from appliance.edgar.filing import parse_filing  # noqa: E402
from appliance.edgar.layout import hints_for  # noqa: E402
from appliance.nlp.sentences import split_sentences  # noqa: E402

FILINGS = REPO / "tests" / "data" / "edgar" / "filings"
DATA = HERE / "sentiment" / "data"
WORK = HERE / "sentiment" / "work"

_ACCESSION = re.compile(r"\d{10}-\d{2}-\d{6}")
_KEY = re.compile(r"[^a-z0-9]+")
_WORD = re.compile(r"[A-Za-z]{2,}")


@dataclass(frozen=True)
class PoolSentence:
    text: str
    section: str  # the Item code ("7", "1A", "part1_item2", "document")
    form: str
    source: str  # the file it came from (first seen)
    kind: str = "sentence"  # sentence | clause | swapped (see variants())


# Where a sentence splits into clauses that can stand alone: semicolons, and a comma before a
# contrast ("..., but ...", "..., while ...") whose both sides are statements of their own.
_CLAUSE = re.compile(
    r";\s+|,\s+(?=(?:but|while|whereas|although|though|however|partially offset by|offset by)\b)",
    re.I,
)
_LEADING_JOINER = re.compile(
    r"^(?:and|but|while|whereas|although|though|however|partially offset by|offset by),?\s+", re.I
)


def key(text: str) -> str:
    """The normalised form used for de-duplication and hold-out matching."""
    return _KEY.sub("", text.lower())


def _filing_files() -> list[Path]:
    """One file per accession, skipping EDGAR index pages."""
    seen: set[str] = set()
    out: list[Path] = []
    for path in sorted(p for p in FILINGS.rglob("*") if p.is_file()):
        m = _ACCESSION.search(path.name)
        if "-index" in path.name or m is None or m.group(0) in seen:
            continue
        seen.add(m.group(0))
        out.append(path)
    return out


def prose_like(sentence: str) -> bool:
    """Enough words, mostly letters, not shouting: a sentence a reader would score."""
    words = _WORD.findall(sentence)
    if not 5 <= len(sentence.split()) <= 90 or len(words) < 4:
        return False
    letters = sum(c.isalpha() for c in sentence)
    if letters < 0.65 * len(sentence):
        return False
    upper = sum(c.isupper() for c in sentence)
    return upper < 0.5 * letters


def filing_sentences() -> Iterator[PoolSentence]:
    for path in _filing_files():
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        parsed = parse_filing(data, hints_for(path))
        form = parsed.metadata.form or "?"
        for section in parsed.sections:
            for sentence in split_sentences(section.text):
                if prose_like(sentence):
                    yield PoolSentence(sentence, section.code, form, path.name)


def clauses(sentence: str) -> list[str]:
    """The clauses of a compound sentence that read as sentences ([] when it has one)."""
    parts = [_LEADING_JOINER.sub("", p).strip(" ,;") for p in _CLAUSE.split(sentence)]
    parts = [p[0].upper() + p[1:] for p in parts if p]
    if len(parts) < 2:
        return []
    return [p if p.endswith((".", "!", "?")) else p + "." for p in parts if prose_like(p)]


def variants(s: PoolSentence) -> list[PoolSentence]:
    """Clause pieces and direction-swapped copies (see finance_lexicon.swap_direction).

    The shared filings hold about 13,500 unique prose sentences; these variants grow the
    distillation pool and show the student both directions of the same metric sentence.
    """
    out = [PoolSentence(c, s.section, s.form, s.source, "clause") for c in clauses(s.text)]
    for base in [s, *out]:
        swapped = swap_direction(base.text)
        if swapped is not None:
            out.append(PoolSentence(swapped, s.section, s.form, s.source, "swapped"))
    return out


def exclude_texts() -> list[str]:
    """Every formal evaluation text: all annotated candidates and the hand-written dev set."""
    lines = (DATA / "formal" / "annotations.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [str(json.loads(x)["text"]) for x in lines if x.strip()]
    with (DATA / "formal_dev.csv").open(encoding="utf-8") as f:
        texts += [r["text"] for r in csv.DictReader(f)]
    return texts


def held_out_keys(texts: Iterable[str]) -> set[str]:
    """Keys of each held-out text and of each of its sentences."""
    keys: set[str] = set()
    for text in texts:
        keys.add(key(text))
        keys.update(key(s) for s in split_sentences(text))
    keys.discard("")
    return keys


def build_pool() -> tuple[list[PoolSentence], dict[str, object]]:
    held = held_out_keys(exclude_texts())
    seen: set[str] = set()
    pool: list[PoolSentence] = []
    dropped_held = raw = 0
    originals = 0
    for original in filing_sentences():
        raw += 1
        for s in [original, *variants(original)]:
            k = key(s.text)
            if k in seen:
                continue
            seen.add(k)
            if k in held:
                dropped_held += 1
                continue
            pool.append(s)
            originals += s.kind == "sentence"
    stats: dict[str, object] = {
        "filings": len(_filing_files()),
        "prose_sentences": raw,
        "unique_sentences": originals,
        "held_out_dropped": dropped_held,
        "pool": len(pool),
        "by_kind": dict(Counter(s.kind for s in pool).most_common()),
        "by_form": dict(Counter(s.form for s in pool).most_common()),
    }
    return pool, stats


def write_pool(pool: list[PoolSentence], path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(json.dumps(asdict(s), ensure_ascii=False) + "\n" for s in pool)
    path.write_text(body, encoding="utf-8")
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def read_pool(path: Path) -> list[PoolSentence]:
    return [
        PoolSentence(**json.loads(line))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line
    ]


if __name__ == "__main__":
    sentences, counts = build_pool()
    digest = write_pool(sentences, WORK / "pool.jsonl")
    print(json.dumps({**counts, "sha256": digest}, indent=1))
