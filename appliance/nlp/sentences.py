"""A sentence splitter for financial prose: news, press releases, SEC filings.

Rule-based on purpose (no model, no download): a boundary is ``.``, ``!`` or ``?`` (with
any closing quotes or brackets) followed by whitespace and something that can start a
sentence. It is not a boundary after titles and reference abbreviations ("Mr.", "No. 5",
"approx."), single initials ("J. Smith"), or, unless the next word typically opens a sentence,
after company and place abbreviations ("Apple Inc. and ...", "the U.S. market"). Decimals
("EUR 13.1 mn") never split, since no whitespace follows their dot. Blank lines and bullets
always split.
"""

from __future__ import annotations

import re

# Abbreviations that essentially never end a sentence.
_NEVER = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "no",
        "nos",
        "vs",
        "v",
        "e.g",
        "i.e",
        "cf",
        "approx",
        "est",
        "dept",
        "fig",
        "figs",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "ref",
        "refs",
        "sec",
        "secs",
        "art",
        "arts",
        "para",
        "p",
        "pp",
        "vol",
        "vols",
        "ed",
        "eds",
        "ch",
        "chap",
        "op",
        "pt",
        "pts",
        "rev",
        "gen",
        "gov",
        "sen",
        "rep",
        "hon",
        "messrs",
    ]
)
# Abbreviations that often end a sentence too ("... sold to Apple Inc. The deal ...").
_SOMETIMES = frozenset(
    [
        "inc",
        "corp",
        "co",
        "ltd",
        "llc",
        "plc",
        "lp",
        "l.p",
        "n.v",
        "s.a",
        "s.p.a",
        "ag",
        "bros",
        "mfg",
        "intl",
        "int'l",
        "assn",
        "govt",
        "u.s",
        "u.k",
        "e.u",
        "u.n",
        "u.s.a",
        "etc",
        "al",
        "yr",
        "yrs",
        "mo",
        "mos",
    ]
)
# Words that open a sentence after a "sometimes" abbreviation.
_STARTERS = frozenset(
    [
        "the",
        "this",
        "these",
        "those",
        "that",
        "there",
        "it",
        "its",
        "we",
        "our",
        "us",
        "they",
        "their",
        "he",
        "she",
        "his",
        "her",
        "in",
        "on",
        "at",
        "as",
        "for",
        "from",
        "by",
        "with",
        "after",
        "before",
        "during",
        "since",
        "while",
        "when",
        "if",
        "although",
        "however",
        "but",
        "also",
        "meanwhile",
        "moreover",
        "furthermore",
        "additionally",
        "accordingly",
        "therefore",
        "net",
        "total",
        "revenue",
        "revenues",
        "sales",
        "operating",
        "income",
        "a",
        "an",
        "no",
        "all",
        "each",
        "both",
        "such",
        "shares",
        "management",
        "during",
    ]
)
_BOUNDARY = re.compile("([.!?]+)([\"'\u201d\u2019)\\]]*)(\\s+)")
_OPENER = re.compile(r"[\"'\u201c\u2018(\[]*[A-Z0-9$\u20ac\u00a3\u00a5]")
_PARA = re.compile(r"\n\s*\n|\n\s*(?=[\u2022\u00b7\u25aa\u25cf\u25e6*\u2013-]\s|\(\w{1,3}\)\s)")
_WS = re.compile(r"\s+")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.'&]*)$")


def _is_boundary(text: str, dot_start: int, punct: str, next_start: int) -> bool:
    nxt = text[next_start : next_start + 40]
    if not _OPENER.match(nxt):
        return False
    if punct[0] in "!?" or len(punct) > 1:
        return True
    m = _WORD_BEFORE.search(text[max(0, dot_start - 30) : dot_start])
    if m is None:
        return True  # "... 13.1%." or "...)." : a number or symbol ends the sentence
    word = m.group(1).lower().rstrip(".")
    if word in _NEVER:
        return False
    if len(word) == 1 and word.isalpha():
        return False  # initials: "J. Smith", "Series A. Preferred" is rare enough
    if word in _SOMETIMES or re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):
        first = re.match(r"[\"'\u201c\u2018(\[]*([A-Za-z]+)", nxt)
        return first is not None and first.group(1).lower() in _STARTERS
    return True


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` in order, whitespace-normalised, empty pieces dropped."""
    out: list[str] = []
    for block in _PARA.split(text):
        block = _WS.sub(" ", block).strip()
        if not block:
            continue
        start = 0
        for m in _BOUNDARY.finditer(block):
            if _is_boundary(block, m.start(1), m.group(1), m.end()):
                piece = block[start : m.end(2)].strip()
                if piece:
                    out.append(piece)
                start = m.end()
        tail = block[start:].strip()
        if tail:
            out.append(tail)
    return out
