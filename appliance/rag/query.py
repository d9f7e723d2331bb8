"""Query analysis: what a question says about which company, period, form and Item it wants.

Nothing here is a hard rule except the company: naming a company (by name, ticker or a
short form like "Nvidia") restricts the search to that company's filings, as an analyst
means it. Years, quarters, "latest", the form and the topic become *preferences*: the
retriever boosts matching chunks but still returns others, because a year in a question can
also be about the content ("revenue in 2023" is reported in the fiscal 2024 10-K too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from appliance.db.queries.rag import CompanyRow
from appliance.rag.keyword import word_set

__all__ = ["CompanyMatcher", "QueryPlan", "analyze", "normalize_name"]

# Words that say nothing about which company a name means.
_SUFFIXES = word_set(
    """
    inc incorporated corp corporation co company companies ltd limited plc llc lp l.p
    holdings holding group the sa ag nv se de del
    """
)
# First words of company names that are ordinary words: never an alias on their own.
_GENERIC = word_set(
    """
    american first general national united international global capital financial income
    growth fund trust bank energy new north south east west great pacific atlantic southern
    northern western eastern central standard advanced applied digital data technology
    technologies systems solutions services resources industries partners realty health
    medical pharmaceutical pharmaceuticals home life best royal universal community federal
    security alliance premier strategic core select
    """
)
_NON_TICKERS = frozenset({"I", "A", "AN", "US", "USA", "CEO", "CFO", "EU", "UK", "AI", "IT", "Q"})
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def normalize_name(name: str) -> str:
    """'Apple Computer, Inc.' -> 'apple computer'; '&' becomes 'and'."""
    text = name.lower().replace("&", " and ").replace("\u2019", "'")
    words = [w.removesuffix("'s") for w in _WORD.findall(text)]
    while words and words[-1] in _SUFFIXES:
        words.pop()
    while words and words[0] == "the":
        words.pop(0)
    return " ".join(words)


class CompanyMatcher:
    """Finds the companies a question names, among those that have filings here."""

    def __init__(self, companies: Iterable[CompanyRow]) -> None:
        self._aliases: dict[str, set[int]] = {}
        self._tickers: dict[str, int] = {}
        first_words: dict[str, set[int]] = {}
        for c in companies:
            for ticker in c.tickers:
                self._tickers[ticker.upper()] = c.cik
            for name in c.names:
                norm = normalize_name(name)
                if not norm:
                    continue
                self._aliases.setdefault(norm, set()).add(c.cik)
                first = norm.split()[0]
                if len(first) >= 4 and first not in _GENERIC and not first.isdigit():
                    first_words.setdefault(first, set()).add(c.cik)
        for word, ciks in first_words.items():
            if len(ciks) == 1:  # "nvidia", "medicis": only when it names one company here
                self._aliases.setdefault(word, set()).update(ciks)
        self._longest = max((len(a.split()) for a in self._aliases), default=0)

    def find(self, question: str) -> set[int]:
        found: set[int] = set()
        for token in re.findall(r"\$?\b[A-Z][A-Z0-9.\-]{0,6}\b", question):
            t = token.lstrip("$")
            if t not in _NON_TICKERS and t in self._tickers:
                found.add(self._tickers[t])
        words = normalize_name(question).split()
        i = 0
        while i < len(words):
            for n in range(min(self._longest, len(words) - i), 0, -1):
                ciks = self._aliases.get(" ".join(words[i : i + n]))
                if ciks:
                    found |= ciks
                    i += n
                    break
            else:
                i += 1
        return found


# Topic words -> the Items that usually answer them (10-K codes and 10-Q codes).
_TOPICS: list[tuple[re.Pattern[str], frozenset[str]]] = [
    (re.compile(p, re.IGNORECASE), frozenset(items))
    for p, items in [
        (
            r"\b(employ\w*|headcount|workforce|staff\w*|human capital|personnel|people)\b",
            {"1"},
        ),
        (r"\brisks?\b|\brisk factors?\b|\buncertaint", {"1A", "part2_item1a"}),
        (
            r"\b(legal|litigation|lawsuits?|sued|court|proceedings|complaints?|"
            r"investigations?|antitrust|settlement)\b",
            {"3", "part2_item1"},
        ),
        (
            r"\b(headquarter\w*|properties|facilit\w*|factor(y|ies)|plants?|office space|"
            r"square feet|lease[sd]?)\b",
            {"2"},
        ),
        (
            r"\b(md&a|results of operations|net sales|sales|revenues?|gross margin|"
            r"liquidity|cash flows?|operating expenses|net income|net loss|earnings|"
            r"grow|grew|growth|decline[sd]?|increase[sd]?|decrease[sd]?|charges?|"
            r"deliver\w*)\b",
            {"7", "part1_item2"},
        ),
        (
            r"\b(market risk|interest rate risk|currency risk|exchange rate|hedg\w*)\b",
            {"7A", "part1_item3"},
        ),
        (r"\b(disclosure controls|internal control\w*)\b", {"9A", "part1_item4"}),
        (r"\b(cyber\w*|information security)\b", {"1C"}),
        (
            r"\b(repurchase\w*|buy ?backs?|bought back|buy back|dividends?|"
            r"stock performance|holders of record)\b",
            {"5", "part2_item2", "7", "part1_item2"},
        ),
        (r"\b(executive officers|directors|board)\b", {"10"}),
        (r"\b(executive compensation|ceo pay|pay ratio)\b", {"11"}),
        (
            r"\b(segments?|products?|brands?|business|customers?|competition|competitors?|"
            r"suppliers?|patents?|seasonal\w*|regulation|states|markets?)\b",
            {"1"},
        ),
        (
            r"\b(financial statements|balance sheet|notes? to|footnotes?|accounting polic\w*)",
            {"8", "part1_item1"},
        ),
    ]
]
_LATEST = re.compile(
    r"\b(latest|most recent(ly)?|recent(ly)?|current(ly)?|newest|last|now|today)\b", re.IGNORECASE
)
_ANNUAL = re.compile(r"\b(10-?k|annual report|annual filing|fiscal year)\b", re.IGNORECASE)
_QUARTERLY = re.compile(
    r"\b(10-?q|quarterly|quarter|q[1-4])\b|\b(first|second|third|fourth) quarter", re.IGNORECASE
)
_YEAR = re.compile(r"\b(?:fy\s?|fiscal\s+(?:year\s+)?)?'?((?:19|20)\d\d)\b", re.IGNORECASE)
_SHORT_FY = re.compile(r"\bfy\s?'?(\d\d)\b", re.IGNORECASE)


@dataclass(frozen=True)
class QueryPlan:
    """What the retriever takes from a question."""

    text: str
    companies: frozenset[int] = frozenset()
    years: tuple[int, ...] = ()
    latest: bool = False
    form_hint: str | None = None  # "10-K" or "10-Q"
    items: frozenset[str] = field(default_factory=frozenset)


def analyze(question: str, matcher: CompanyMatcher | None) -> QueryPlan:
    years = [int(m.group(1)) for m in _YEAR.finditer(question)]
    years += [2000 + int(m.group(1)) for m in _SHORT_FY.finditer(question)]
    annual = bool(_ANNUAL.search(question))
    quarterly = bool(_QUARTERLY.search(question))
    form_hint = "10-Q" if quarterly and not annual else "10-K" if annual and not quarterly else None
    items: set[str] = set()
    for pattern, codes in _TOPICS:
        if pattern.search(question):
            items |= codes
    return QueryPlan(
        text=question,
        companies=frozenset(matcher.find(question)) if matcher else frozenset(),
        years=tuple(dict.fromkeys(years)),
        latest=bool(_LATEST.search(question)),
        form_hint=form_hint,
        items=frozenset(items),
    )
