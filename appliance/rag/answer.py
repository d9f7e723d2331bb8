"""The extractive answer: the few sentences of the cited chunks that best answer the question.

No language model writes it: every sentence of the answer is quoted from a cited chunk and
marked with that citation's number, so each claim can be checked against its filing. A
sentence scores by the question's content words it contains (rarer words across the
candidate sentences count more) and, when the index's embedder is at hand, by how close its
meaning is to the question's (MiniLM cosine: "how large is the labor force" meets "58,000
full-time equivalent employees", which shares no word with it); weighted down the further
its chunk is in the ranking, and, for a question asking for the latest, when its filing is
older than the newest one cited. A question asking for an amount, a count or a rate ("how
much", "how many", "how fast", "what was the revenue") wants the sentence with the figure:
sentences stating one (a year alone is not a figure) count more, sentences without one
less; and once the best sentence states one, a "how many" or "how much" answer quotes no
sentence without a number. A table row is quoted under its column headers ("2025 | Change
| 2024 / Total net sales | $416,161 | 6% | $391,035"), both lines taken verbatim from the
cited passage. A line of dates alone is never quoted.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from appliance.db.connection import Connection
from appliance.db.queries.rag import CitationRow
from appliance.edgar.layout import archives_url
from appliance.edgar.vocabulary import SEC_ARCHIVES
from appliance.errors import UnknownTicker
from appliance.rag.chunking import split_units
from appliance.rag.embedding import TextEmbedder
from appliance.rag.focus import FIGURE, QUANTITY, stem
from appliance.rag.keyword import SYNONYMS, terms, word_set
from appliance.rag.numeric import with_facts
from appliance.rag.retrieve import Hit, Retriever, SearchRequest

__all__ = [
    "Sentence",
    "answer",
    "answer_sentences",
    "answer_text",
    "citation",
    "compose",
    "filing_url",
    "no_answer",
    "sentence_similarity",
]

_MAX_SENTENCE = 600  # characters: longer "sentences" are tables or lists
_MIN_SENTENCE = 25
# Words that only date a line: a line holding nothing else and no figure ("April 1, 2000
# March 27, 1999", a flattened table's column heads) is no answer, however close its
# meaning. A dated row with figures ("June 29 - July 26, 2025 | 12,500 | $210.12") stays.
_DATING = word_set(
    """
    january february march april may june july august september october november december
    ended ending months weeks three six nine twelve fiscal year years quarter
    """
)
_LETTERS = re.compile(r"[A-Za-z][A-Za-z'&-]+")
_COUNT_QUESTION = re.compile(r"\bhow (?:many|much)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\b(?!(?:19|20)\d\d\b)\d")  # any number but a year ("40 stores", "27,")
# A sentence's score: its shared words' weight relative to the best sentence's (0..1), plus
# this times its cosine to the question. Chosen on the blind tune split, with the words
# scored as before the analyst vocabulary (the answer quotes an evidence phrase from an
# expected filing: 0.576 with words alone, 0.624 at 0.5 and 1, 0.659 at 2, 0.635 at 3, 0.624
# at 5; see README "Retrieval quality").
SEMANTIC_WEIGHT = 2.0
# For a question asking for the latest, the factor of sentences from older cited filings
# than the newest: on the tune split 0.7, 0.5 and 0.3 each quote one more evidence phrase
# than 1 (of the 15 such questions, 9 against 8), 0.5 the middle of that range.
STALE_WEIGHT = 0.5

# The question and candidate sentences -> each sentence's cosine to the question.
Similarity = Callable[[str, Sequence[str]], Sequence[float]]


@dataclass(frozen=True)
class Sentence:
    text: str
    citation: int  # 1-based citation number
    score: float


def _column_header(text: str) -> str | None:
    """The column-header row a table passage carries (its first ``|`` line without figures),
    when the passage is a table's row group."""
    for line in text.split("\n")[:3]:
        if "|" in line:
            cells = [c.strip() for c in line.split("|")]
            if not cells[0] or not any(FIGURE.search(c) for c in cells):
                return " ".join(line.split())
            return None
    return None


def _sentences(text: str) -> list[tuple[str, str]]:
    """``(shown, matched)`` per sentence: a table row is shown under its column headers but
    matched on its own words (every row carries the same headers)."""
    header = _column_header(text)
    out = []
    for start, end, _ in split_units(text):
        s = " ".join(text[start:end].split())
        if not _MIN_SENTENCE <= len(s) <= _MAX_SENTENCE or s == header:
            continue
        if all(w.lower() in _DATING for w in _LETTERS.findall(s)) and not FIGURE.search(s):
            continue
        if header and "|" in s and s.count("|") == header.count("|") + 1:
            out.append((f"{header} / {s}", s))
        else:
            out.append((s, s))
    return out


def _alternatives(term: str) -> frozenset[str]:
    """The stems that meet a question word: its own and its synonyms' (``SYNONYMS``)."""
    return frozenset(stem(w) for s in (term, *SYNONYMS.get(term, ())) for w in s.split())


def sentence_similarity(embedder: TextEmbedder | None) -> Similarity | None:
    """Sentence meaning by the index's embedder (the question and the cited sentences in one
    call: about 50 ms for five passages on 2 cores), or None without one."""
    if embedder is None:
        return None

    def similarity(question: str, sentences: Sequence[str]) -> Sequence[float]:
        vectors = embedder.embed([question, *sentences])
        cosines: Sequence[float] = (vectors[1:] @ vectors[0]).tolist()
        return cosines

    return similarity


def _scored(
    question: str, chunks: Sequence[str], context: str = "", similarity: Similarity | None = None
) -> list[Sentence]:
    """The sentences of the chunks that share a content word with the question (with
    ``similarity``: every sentence), scored (without the rank decay).

    Words of the question that only set its context (the company, the form, the Item: the
    words of the cited chunks' headers) do not score: every cited sentence is already about
    Apple's 10-K, and "Apple University" is no answer to "How many employees does Apple have".
    A word of the question is met by its own stem or by the filing words the retriever's
    analyst vocabulary gives for it ("R&D": research, development; "headcount": employees).
    """
    context_stems = {stem(t) for t in terms(context)}
    asked = [(stem(t), _alternatives(t)) for t in terms(question)]
    focus = [alts for own, alts in asked if own not in context_stems]
    q_words = list(dict.fromkeys(focus or [alts for _, alts in asked]))
    wants_figure = bool(QUANTITY.search(question))
    candidates: list[tuple[int, str, str, set[str]]] = []
    for n, chunk in enumerate(chunks):
        for shown, words in _sentences(chunk):
            candidates.append((n, shown, words, {stem(t) for t in terms(words)}))
    if not candidates:
        return []
    df = Counter(alts for *_, ts in candidates for alts in q_words if alts & ts)
    total = len(candidates)
    scores = [
        sum(math.log(1 + total / df[alts]) for alts in q_words if alts & ts)
        for *_, ts in candidates
    ]
    if similarity is not None:
        # Words relative to the best sentence's, so that meaning weighs the same whatever
        # the question's length; a sentence far from the question gains nothing.
        top = max(scores) or 1.0
        cosines = similarity(question, [words for _, _, words, _ in candidates])
        scores = [
            w / top + SEMANTIC_WEIGHT * max(float(c), 0.0)
            for w, c in zip(scores, cosines, strict=True)
        ]
    out: list[Sentence] = []
    for (n, s, _, _), score in zip(candidates, scores, strict=True):
        if score <= 0:
            continue
        if wants_figure:
            score *= 1.6 if FIGURE.search(s) else 0.6
        out.append(Sentence(s, n + 1, score))
    return out


def best_sentences(
    question: str,
    chunks: Sequence[str],
    limit: int = 3,
    context: str = "",
    similarity: Similarity | None = None,
    weights: Sequence[float] | None = None,
) -> list[Sentence]:
    """The answer's sentences, best first. ``weights``: one factor per chunk (the rank decay
    applies as well)."""
    scored = [
        Sentence(
            s.text,
            s.citation,
            s.score
            * (weights[s.citation - 1] if weights else 1.0)
            / (1.0 + 0.15 * (s.citation - 1)),
        )
        for s in _scored(question, chunks, context, similarity)
    ]
    scored.sort(key=lambda x: -x.score)
    counting = bool(_COUNT_QUESTION.search(question))
    chosen: list[Sentence] = []
    seen: set[str] = set()
    per_chunk: Counter[int] = Counter()
    for sent in scored:
        key = sent.text.lower()
        if key in seen or per_chunk[sent.citation] >= 2:
            continue
        # "How many/much" answered by a figure is answered by figures: a sentence with no
        # number at all only shares a word ("compensation ... to enable employees to share in
        # the Company's success" after "166,000 employees"). The broader QUANTITY questions
        # ("How did sales do?", "How was revenue booked?") keep their descriptive sentences.
        if counting and chosen and FIGURE.search(chosen[0].text) and not _NUMBER.search(sent.text):
            continue
        if chosen and sent.score < 0.35 * chosen[0].score:
            break
        seen.add(key)
        per_chunk[sent.citation] += 1
        chosen.append(sent)
        if len(chosen) >= limit:
            break
    return chosen


def compose(
    question: str,
    chunks: Sequence[str],
    limit: int = 3,
    context: str = "",
    similarity: Similarity | None = None,
) -> str:
    """The answer text: best sentences, each followed by its citation number ``[n]``.

    ``context``: text whose words set the question's context rather than its subject (the
    cited chunks' headers). ``similarity``: sentence meaning (:func:`sentence_similarity`);
    without it, shared words alone. A reply's answer is :func:`answer_text`.
    """
    return _render(best_sentences(question, chunks, limit, context, similarity), chunks)


def _render(chosen: Sequence[Sentence], chunks: Sequence[str]) -> str:
    """The chosen sentences, each followed by ``[n]``; with none, the first chunk's first."""
    if not chosen and chunks:
        first = [shown for shown, _ in _sentences(chunks[0])]
        chosen = [Sentence((first or [" ".join(chunks[0].split())[:_MAX_SENTENCE]])[0], 1, 0.0)]
    return " ".join(f"{s.text} [{s.citation}]" for s in chosen)


def newest_first(hits: Sequence[Hit], latest: bool) -> list[float] | None:
    """Chunk weights for a question asking for the latest ("most recently", "now"): the
    sentences of filings older than the newest one cited count ``STALE_WEIGHT``, so the
    answer does not open with a 2002 headcount the 2025 10-K has replaced (the retriever
    prefers the newest filing too, but the reader can still rank an old passage first)."""
    if not latest or not hits:
        return None
    newest = max(h.citation.filing_date for h in hits)
    return [1.0 if h.citation.filing_date == newest else STALE_WEIGHT for h in hits]


def answer_sentences(
    question: str, hits: Sequence[Hit], embedder: TextEmbedder | None, *, latest: bool = False
) -> list[Sentence]:
    """The reply's answer sentences from a search's hits (what :func:`answer_text` quotes)."""
    return best_sentences(
        question,
        [h.citation.text for h in hits],
        context=" ".join(h.citation.header for h in hits),
        similarity=sentence_similarity(embedder),
        weights=newest_first(hits, latest),
    )


def answer_text(
    question: str, hits: Sequence[Hit], embedder: TextEmbedder | None, *, latest: bool = False
) -> str:
    """The reply's answer from a search's hits: their sentences scored by words and meaning,
    the hits' headers as the question's context, the newest filing first when the question
    asks for the latest (``SearchResult.plan.latest``)."""
    chosen = answer_sentences(question, hits, embedder, latest=latest)
    return _render(chosen, [h.citation.text for h in hits])


def no_answer(*, ticker: str | None, cutoff: str | None, company_named: bool) -> str:
    who = f"{ticker.upper()} " if ticker else "the named company's " if company_named else ""
    when = f" dated on or before {cutoff}" if cutoff else ""
    return f"No {who}filing{when} in the index answers this question, so there is nothing to cite."


def filing_url(row: CitationRow) -> str | None:
    """The filing's sec.gov Archives address (the stored one, else its index page)."""
    if row.url:
        return row.url
    if row.cik:
        return archives_url(SEC_ARCHIVES, row.cik, row.accession, None)
    return None


def citation(row: CitationRow, score: float) -> dict[str, Any]:
    return {
        "ticker": row.ticker,
        "cik": row.cik,
        "company": row.company,
        "form": row.form,
        "filing_date": row.filing_date,
        "accession": row.accession,
        "section": row.item,
        "section_title": row.section_title,
        "text": row.text,
        "url": filing_url(row),
        "score": round(score, 6),
    }


def answer(conn: Connection, retriever: Retriever, req: SearchRequest) -> dict[str, Any]:
    """The Q&A response body: extractive answer, citations, and the cutoff it was as of.

    Raises UnknownTicker when ``req.ticker`` is neither imported nor in the symbol map.
    """
    result = retriever.search(conn, req)
    if result.unknown_ticker:
        raise UnknownTicker(f"unknown ticker {req.ticker!r}: not in the symbol map")
    cites = [citation(h.citation, h.score) for h in result.hits]
    if cites:
        text = answer_text(req.query, result.hits, retriever.embedder, latest=result.plan.latest)
    else:
        text = no_answer(
            ticker=req.ticker, cutoff=req.cutoff, company_named=bool(result.plan.companies)
        )
    body = {"answer": text, "citations": cites, "as_of": req.cutoff}
    return with_facts(conn, req, result.plan.companies, body)
