"""Passage focus: how much of the question one sentence (or table row) of a passage covers.

Fusion ranks whole chunks, and the neighbours of the answering passage in the same Item
share the question's words too, scattered over several sentences. The passage that answers
tends to hold them together in one sentence or row, and for "how much" questions next to a
figure. :class:`QueryFocus` measures that share, and the retriever multiplies the fused
score of its best candidates by ``1 + focus_boost x share`` before choosing the top k.
"""

from __future__ import annotations

import re

from appliance.rag.chunking import split_units
from appliance.rag.keyword import SYNONYMS, terms, word_set

__all__ = ["FIGURE", "QUANTITY", "QueryFocus", "stem"]

# A figure: a number that is not just a year (or a note/Item number).
FIGURE = re.compile(
    r"\$\s?\d|\d[\d,]*\.?\d*\s*(?:%|percent|million|billion|thousand|GWh)"
    r"|\b\d{1,3}(?:,\d{3})+\b|\b(?!(?:19|20)\d\d\b)\d{3,}\b"
)
# A question asking for an amount, a rate or a count.
QUANTITY = re.compile(
    r"\b(how (many|much|large|big|fast|quickly|far)|number of|amount|headcount|percent(age)?|"
    r"share of|what (was|were|is|are) (the|its|their)|revenues?|sales|margins?|capex|"
    r"growth rate|spend|spent|cost|paid|price)\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"^(19|20)\d\d$")
# When the question is asked, not what it asks: the recency and period boosts own these.
_WHEN = word_set(
    "latest recent recently current currently newest last now today fiscal year quarter"
)


def stem(word: str) -> str:
    """A light stemmer: "increase", "increased" and "increases" meet at "increas"."""
    for suffix in ("ies", "es", "s", "ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word[:-1] if word.endswith("e") and len(word) >= 5 else word


class QueryFocus:
    """A question's content words, each with the stems that count as a match (its own and
    its synonyms'). Left out: years and words of time (the period filter and the recency
    boosts own those), and ``names``, the words naming the company searched (its passages
    say "the Company" or "we")."""

    def __init__(self, question: str, names: frozenset[str] = frozenset()) -> None:
        self.words = [
            frozenset(stem(w) for s in (t, *SYNONYMS.get(t, ())) for w in s.split())
            for t in terms(question)
            if not _YEAR.match(t) and t not in _WHEN and t not in names
        ]
        self.wants_figure = bool(QUANTITY.search(question))

    def __call__(self, passage: str) -> float:
        """The largest share of the question's words one unit of ``passage`` holds, halved
        for a unit without a figure when the question asks for one; 0..1."""
        if not self.words:
            return 0.0
        best = 0.0
        for start, end, _ in split_units(passage):
            unit = passage[start:end]
            have = {stem(w) for w in terms(unit)}
            share = sum(1 for alts in self.words if alts & have) / len(self.words)
            if self.wants_figure and not FIGURE.search(unit):
                share *= 0.5
            best = max(best, share)
        return best
