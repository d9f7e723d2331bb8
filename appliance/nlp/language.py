"""Does a sentence contain language at all? ("12312 ;;; zzz" does not.)

A classifier trained on text answers confidently on anything, digits and keyboard mashing
included; the honest answer there is "no evidence". A sentence has language when it holds
at least one real word of three or more letters, or two real words of two or more: a word
being letters only, with a vowel, that the model's own WordPiece vocabulary knows whole
("revenue", "eps", "up"), so "qwrt", "zzz", "hjkl" and "asdfgh" do not count.
"""

from __future__ import annotations

import re
from collections.abc import Collection

_WORD = re.compile(r"[A-Za-z]{2,}")
_VOWEL = re.compile(r"[aeiouy]")

# What a sentence without language scores: neutral, and no class above 0.6, so nobody reads
# it as a confident answer.
NO_LANGUAGE_SCORES = {"negative": 0.25, "neutral": 0.5, "positive": 0.25}


def has_language(sentence: str, vocabulary: Collection[str]) -> bool:
    known = [
        w
        for w in (m.group(0).lower() for m in _WORD.finditer(sentence))
        if _VOWEL.search(w) and len(set(w)) > 1 and w in vocabulary
    ]
    return any(len(w) >= 3 for w in known) or len(known) >= 2
