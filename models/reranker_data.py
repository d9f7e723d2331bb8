"""Training pairs for the passage reranker, made from the filings themselves (no outside data).

Only the *tune* companies' filings are read (Apple and NVIDIA, CIKs below): the blind test
split's companies (Tesla, CARBO, Medicis, GAINSCO, the Commonwealth fund) stay unseen, so the
headline figure measures generalisation to filers the model never read.

Passages are cut by the app's own chunker (``appliance.rag.chunking``) with the indexing
policy, so they look like what the reranker scores at run time. Four kinds of query, each
with a passage that answers it and hard negatives from the same filing:

- ``heading``: a heading line (a risk factor's one-sentence title, an MD&A caption) -> the
  passage that follows it, with the heading removed. The answering paragraph usually shares
  few words with its title: this teaches "what is this paragraph about".
- ``ict``: a sentence, degraded (a third of its words dropped, order kept) -> the passage it
  came from, with the sentence removed half the time (inverse cloze task).
- ``figure``: a sentence reporting a figure ("Mac net sales decreased 27% ...") -> a question
  built from its subject ("How much did Mac net sales change in 2023?") -> its passage.
- ``row``: a table row label under its table's caption -> the passage holding the row.
- ``question``: the repo's analyst questions about the tune companies (the blind set's tune
  split, the regression and numeric sets' tune-company entries) -> a passage holding one of
  the question's evidence phrases in a filing it names. These are the only queries phrased
  the way users ask ("capex", "the latest on", "headcount"), which the synthetic kinds do
  not teach; each question is repeated with several sets of hard negatives.

Hard negatives: the passages of the same filing sharing most words with the query, minus the
positive's neighbours (chunks overlap, a neighbour may hold the same sentence).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from appliance.rag.chunking import ChunkPolicy, chunk_text, split_units
from appliance.rag.keyword import terms
from tests.bench import qa_eval  # what "holds the evidence" means, as the bench scores it

TUNE_CIKS = (320193, 1045810)  # Apple, NVIDIA: the blind set's tune split
SEED = 11
NEGATIVES = 3

_YEAR = re.compile(r"\b(19|20)\d\d\b")
_NUMBER = re.compile(r"\$?\d[\d,.]*%?")
_VERB = re.compile(
    r"\b(increased|decreased|declined|grew|rose|fell|was|were|totaled|totalled|represented|"
    r"amounted to|accounted for)\b"
)
_BARE = re.compile(r"^[\W\d_]+$")


@dataclass(frozen=True)
class Passage:
    key: tuple[str, str, int]  # accession, item, ordinal
    text: str


@dataclass(frozen=True)
class Question:
    query: str
    evidence: tuple[str, ...]  # phrases, any one of which answers it
    accessions: tuple[str, ...]  # the filings that hold the answer


@dataclass(frozen=True)
class Group:
    kind: str
    query: str
    positive: str
    negatives: tuple[str, ...]


def _sentences(text: str) -> list[str]:
    return [" ".join(text[s:e].split()) for s, e, _ in split_units(text)]


def _degrade(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    keep = [w for w in words if rng.random() > 0.33]
    return " ".join(keep or words[:5])


def _figure_question(sentence: str, rng: random.Random) -> str | None:
    m = _VERB.search(sentence)
    if m is None or not _NUMBER.search(sentence[m.end() :]):
        return None
    subject = sentence[: m.start()].strip(" ,;:")
    words = subject.split()
    if not 2 <= len(words) <= 10 or _NUMBER.search(subject):
        return None
    subject = subject[0].lower() + subject[1:] if not subject[:2].isupper() else subject
    year = _YEAR.search(sentence)
    when = f" in {year.group(0)}" if year and rng.random() < 0.7 else ""
    verb = m.group(1)
    if verb in ("was", "were", "totaled", "totalled", "amounted to"):
        return rng.choice(["What was", "How much was", "What were"]) + f" {subject}{when}?"
    if verb in ("represented", "accounted for"):
        return f"What share did {subject} represent{when}?"
    return rng.choice(["How much did", "How did"]) + f" {subject} change{when}?"


def _headings(text: str) -> Iterable[tuple[str, str]]:
    """(heading, following paragraph) pairs: a short line, then a long paragraph."""
    lines = [ln.strip() for ln in text.split("\n")]
    for i, line in enumerate(lines[:-1]):
        nxt = lines[i + 1]
        n = len(line.split())
        if 3 <= n <= 40 and "|" not in line and len(nxt.split()) >= 40 and "|" not in nxt:
            yield line, nxt


def _rows(text: str) -> Iterable[tuple[str, str, str]]:
    """(caption, row label, row line) for table rows (cells joined by ' | ')."""
    caption = ""
    for line in (ln.strip() for ln in text.split("\n")):
        if "|" not in line:
            if line.endswith(":") or (4 <= len(line.split()) <= 30):
                caption = line
            continue
        cells = [c.strip() for c in line.split("|")]
        label = cells[0]
        numeric = any(_NUMBER.search(c) for c in cells[1:])
        if caption and len(label.split()) >= 2 and numeric and not _BARE.match(label):
            yield caption, label, line


def passages(
    sections: Iterable[tuple[str, str, str]], count: Callable[[str], int], policy: ChunkPolicy
) -> list[Passage]:
    """Chunks of ``(accession, item, text)`` sections, as the indexer cuts them."""
    out = []
    for acc, item, text in sections:
        for n, c in enumerate(chunk_text(text, count, policy, header_tokens=40)):
            out.append(Passage((acc, item, n), c.text))
    return out


def _overlap(query: set[str], text_terms: set[str]) -> int:
    return len(query & text_terms)


def build_groups(all_passages: list[Passage], limit_per_kind: int) -> list[Group]:
    """Query groups (1 positive + NEGATIVES hard negatives) of the four kinds, shuffled."""
    rng = random.Random(SEED)
    by_filing: dict[str, list[int]] = {}
    for i, p in enumerate(all_passages):
        by_filing.setdefault(p.key[0], []).append(i)
    term_sets = [set(terms(p.text)) for p in all_passages]
    index = {p.key: i for i, p in enumerate(all_passages)}

    def negatives(pos: int, query: str, exclude_text: str) -> tuple[str, ...] | None:
        acc, item, n = all_passages[pos].key
        near = {index.get((acc, item, n + d)) for d in (-1, 1)}
        q = set(terms(query))
        pool = [
            i
            for i in by_filing[acc]
            if i != pos and i not in near and exclude_text not in all_passages[i].text
        ]
        if len(pool) < NEGATIVES:
            return None
        scored = sorted(pool, key=lambda i: -_overlap(q, term_sets[i]))
        # Mostly the hardest, one drawn from the next band so the head sees some variety.
        hard = [*scored[: NEGATIVES - 1], rng.choice(scored[NEGATIVES - 1 : NEGATIVES + 20])]
        return tuple(all_passages[i].text for i in hard)

    made: dict[str, list[Group]] = {"heading": [], "ict": [], "figure": [], "row": []}
    order = list(range(len(all_passages)))
    rng.shuffle(order)
    seen_headings: set[str] = set()
    for pos in order:
        p = all_passages[pos]
        text = p.text
        sents = [s for s in _sentences(text) if len(s.split()) >= 8 and "|" not in s]
        # heading -> following paragraph
        for heading, para in _headings(text):
            if heading in seen_headings or len(made["heading"]) >= limit_per_kind:
                continue
            first = _sentences(para)[0] if para else ""
            body = text.replace(heading, " ").strip()
            if len(body.split()) < 30 or not first:
                continue
            neg = negatives(pos, heading, first)
            if neg:
                seen_headings.add(heading)
                made["heading"].append(Group("heading", heading, body, neg))
            break
        # inverse cloze
        if sents and len(made["ict"]) < limit_per_kind:
            s = rng.choice(sents)
            body = text.replace(s, " ").strip() if rng.random() < 0.5 else text
            neg = negatives(pos, s, s)
            if neg and len(body.split()) >= 20:
                made["ict"].append(Group("ict", _degrade(s, rng), body, neg))
        # figure question
        if len(made["figure"]) < limit_per_kind:
            for s in sents:
                q = _figure_question(s, rng)
                if q:
                    neg = negatives(pos, q, s)
                    if neg:
                        made["figure"].append(Group("figure", q, text, neg))
                    break
        # table row
        if len(made["row"]) < limit_per_kind:
            rows = list(_rows(text))
            if rows:
                caption, label, line = rng.choice(rows)
                cap = " ".join(caption.split()[:12])
                q = rng.choice([f"{label} ({cap})", f"What was {label.lower()}? {cap}"])
                neg = negatives(pos, q, line)
                if neg:
                    made["row"].append(Group("row", q, text, neg))
    groups = [g for kind in made.values() for g in kind]
    rng.shuffle(groups)
    return groups


def load_questions(
    filings: dict[str, int], ciks: set[int]
) -> tuple[list[Question], list[Question]]:
    """The repo's questions about the tune filings, split into (train, held out): a question
    trains when every filing it names belongs to one of ``ciks``. Blind questions of the test
    split and the numeric set's held-out entries are never read; questions naming a filing
    outside ``filings`` (another company's) are skipped."""
    numeric = qa_eval.load_questions(qa_eval.DATA / "qa_numeric_dev.jsonl")
    rows = [q for q in qa_eval.load_blind() if q["split"] == "tune"] + [
        q
        for q in qa_eval.load_questions() + numeric
        if q.get("split", "tune") == "tune" and q.get("evidence")
    ]
    train: list[Question] = []
    held: list[Question] = []
    for q in rows:
        accessions = tuple(e["accession"] for e in q["expect"])
        if not accessions or any(a not in filings for a in accessions):
            continue
        question = Question(q["query"], tuple(qa_eval.evidence_phrases(q)), accessions)
        (train if all(filings[a] in ciks for a in accessions) else held).append(question)
    return train, held


def question_groups(
    all_passages: list[Passage], questions: Iterable[Question], sets_per_question: int
) -> list[Group]:
    """Groups for real questions: each passage holding an evidence phrase (at most two per
    question) with up to ``sets_per_question`` disjoint triples of hard negatives, the
    passages of the same filing sharing most words with the question that hold none."""
    rng = random.Random(SEED + 1)
    by_filing: dict[str, list[int]] = {}
    for i, p in enumerate(all_passages):
        by_filing.setdefault(p.key[0], []).append(i)
    normed = [qa_eval.normalize(p.text) for p in all_passages]
    term_sets: dict[int, set[str]] = {}  # filled for the filings questions name

    def words(i: int) -> set[str]:
        if i not in term_sets:
            term_sets[i] = set(terms(all_passages[i].text))
        return term_sets[i]

    out: list[Group] = []
    for question in questions:
        phrases = [qa_eval.normalize(e) for e in question.evidence if e.strip()]
        q = set(terms(question.query))
        for acc in question.accessions:
            ids = by_filing.get(acc, [])
            answers = [i for i in ids if any(e in normed[i] for e in phrases)]
            holding = set(answers)
            others = [i for i in ids if i not in holding]
            if not answers or len(others) < NEGATIVES:
                continue
            others.sort(key=lambda i: -len(q & words(i)))
            for pos in answers[:2]:
                for k in range(sets_per_question):
                    neg = others[k * NEGATIVES : (k + 1) * NEGATIVES]
                    if len(neg) < NEGATIVES:
                        break
                    texts = tuple(all_passages[i].text for i in neg)
                    out.append(Group("question", question.query, all_passages[pos].text, texts))
    rng.shuffle(out)
    return out


def kind_counts(groups: Iterable[Group]) -> dict[str, int]:
    return dict(Counter(g.kind for g in groups))
