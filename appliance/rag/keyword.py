"""Turning a question into an FTS5 keyword query (BM25 does the ranking in SQLite).

A question is free text; FTS5's query language treats words like AND/OR/NEAR, quotes,
parentheses and ``-`` specially, so every term is quoted and the terms are ORed: BM25 then
rewards chunks matching more, and rarer, terms. Question words and other stopwords are
dropped (they match everything and only add noise to BM25's sums).
"""

from __future__ import annotations

import re

__all__ = ["STOPWORDS", "SYNONYMS", "fts_query", "terms", "word_set"]


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of a literal block (keeps word lists readable)."""
    return frozenset(text.split())


STOPWORDS = word_set(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves company company's companys tell say says said describe according
    report reported reports disclose disclosed filing filings many much
    """
)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9&.'\u2019%$-]*")


def terms(text: str) -> list[str]:
    """Lower-cased content words of ``text``, in order, without duplicates."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in _TOKEN.findall(text):
        word = raw.strip(".'\u2019-%$").lower().replace("\u2019", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if not word or word in STOPWORDS or word in seen:
            continue
        if len(word) == 1 and not word.isdigit():
            continue
        seen.add(word)
        out.append(word)
    return out


# How analysts ask -> how filings say it. Added to (never replacing) the question's terms,
# because BM25 only matches words the filing uses.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "people": ("employees",),
    "staff": ("employees",),
    "workforce": ("employees",),
    "headcount": ("employees",),
    "employ": ("employees",),
    "employed": ("employees",),
    "buy": ("repurchase", "repurchased"),
    "buyback": ("repurchase", "repurchased"),
    "buybacks": ("repurchase", "repurchased"),
    "headquartered": ("headquarters",),
    "based": ("headquarters",),
    "lawsuit": ("litigation", "legal"),
    "lawsuits": ("litigation", "legal"),
    "sued": ("litigation", "legal"),
    "factories": ("manufacturing", "facilities"),
    "plants": ("manufacturing", "facilities"),
    "sales": ("revenue",),
    "revenue": ("sales",),
    "profit": ("income",),
    "ceo": ("chief", "executive", "officer"),
    "hacking": ("cybersecurity",),
    "cyber": ("cybersecurity",),
    # Analyst shorthand for the line items statements spell out.
    "capex": ("capital", "expenditures", "property", "equipment"),
    "r&d": ("research", "development"),
    "opex": ("operating", "expenses"),
    "sg&a": ("selling", "general", "administrative"),
    "buyers": ("customers",),
    "clients": ("customers",),
    "penalty": ("fined", "fine"),
    "penalties": ("fined", "fines"),
}


def fts_query(text: str, extra: list[str] | None = None) -> str | None:
    """An FTS5 MATCH expression ORing the quoted terms, or None when nothing is left."""
    base = terms(text)
    words = base + [s for w in base for s in SYNONYMS.get(w, ())] + [w for w in extra or [] if w]
    parts: list[str] = []
    for word in dict.fromkeys(words):
        # Inside double quotes FTS5 treats everything as text; the unicode61 tokenizer
        # splits "10-k" or "u.s" into a phrase of its parts, which is what we want.
        parts.append('"' + word.replace('"', "") + '"')
    return " OR ".join(parts) if parts else None
