"""How sure the Q&A is that its top citation answers the question, and when to say "I don't
know" instead.

Two kinds of refusal:

- **Rules** for questions no filing can answer whatever the index holds: nothing to search
  for ("?????", "Thanks!"), a prediction or advice ("What will inflation be next year?",
  "Should I buy Tesla shares?"), live market data ("Tesla's stock price today"), a fiscal year
  after every filing of the companies asked about ("Apple's revenue in fiscal 2027").
- **Confidence**: a logistic model of simple features of the question and what retrieval
  found, fitted on the development questions (``tests/bench/bench_qa_honesty.py --fit``) to
  the probability that the top citation answers the question. An answer below
  ``qa_min_confidence`` is refused.

The features (:class:`Features`), each cheap and computed from the search result:

- ``cosine``: the embedding similarity of the question and the top citation (MiniLM).
- ``cosine_gap``: how far the top citation stands above the mean of the rest.
- ``coverage``: the share of the question's content words (weighted by rarity in the corpus,
  the company's own name and the form words left out) that the top citation contains.
- ``coverage_best``: the same for the best of the cited passages.
- ``unknown``: the weighted share of the question's content words that no indexed passage
  contains at all ("recipe", "haiku", "Coldplay").
- ``named``: the question names a company (or passes ``ticker``) that is indexed.
- ``agree``: the top citation was found by both the dense and the keyword search.
- ``described``: the question names no company but describes one by rank ("the biggest coffee
  chain", "the top US pharmacy benefit manager"): whichever company is meant, the passages
  found are about another unless the model is sure.
- ``rerank``: reserved for a cross-encoder's score of (question, top passage); 0 until one is
  loaded. A model fitted with it gives it a weight; the others keep theirs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from appliance.rag.keyword import terms, word_set

__all__ = [
    "DEFAULT_THRESHOLD",
    "FITTED",
    "Features",
    "Judge",
    "Model",
    "Refusal",
    "content_terms",
    "refusal_rule",
]

# Question words that carry no topic (on top of keyword.STOPWORDS).
_QUESTION_NOISE = word_set(
    """
    give show explain summarize summarise list provide please tell know get much many good
    bad best like look main key big biggest largest last next year years quarter quarters
    fiscal annual quarterly 10-k 10-q 10k 10q form item latest recent current currently
    compare compared versus vs total overall way ways kind type does did do done make made
    happen happened change changed new old thanks thank hello hi hey bye goodbye morning
    evening afternoon night cheers okay ok yes sure great cool
    """
)
_ADVICE = re.compile(
    r"\bshould (?:i|we|you)\b.*\b(?:buy|sell|hold|invest|short|own)\b"
    r"|\b(?:good|bad|smart) (?:buy|investment|stock to buy)\b"
    r"|\bworth (?:buying|investing|owning)\b",
    re.IGNORECASE,
)
_PREDICT = re.compile(r"\b(?:predict\w*|prophes\w*)\b", re.IGNORECASE)
_WILL = re.compile(
    r"\b(?:what|who|where|when|how much|how many|how high|how low|which)\b[^?]*\bwill\b",
    re.IGNORECASE,
)
_FUTURE = re.compile(
    r"\b(?:next (?:year|quarter|month|week|decade)|tomorrow|tonight|in (?:20|21)\d\d|"
    r"by (?:20|21)\d\d|(?:20|21)\d\d and beyond)\b",
    re.IGNORECASE,
)
_LIVE = re.compile(
    r"\b(?:stock|share) price\b[^?]*\b(?:today|now|right now|currently|at the moment)\b"
    r"|\b(?:current|today's|live|real-time) (?:stock |share )?(?:price|quote)\b",
    re.IGNORECASE,
)
_DESCRIBED = re.compile(
    r"\bthe (?:[\w.'&-]+ ){0,2}?(?:biggest|largest|top|leading|dominant|most valuable)\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(?:fy\s?)?((?:19|20)\d\d)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Refusal:
    reason: str  # "empty" | "advice" | "prediction" | "live_data" | "period"
    message: str


def content_terms(question: str, context: str = "") -> list[str]:
    """The words that say what a question is about: keyword terms without question words and
    without the words of ``context`` (the company's names and tickers)."""
    drop = {_stem(t) for t in terms(context)}
    out: list[str] = []
    seen: set[str] = set()
    for t in terms(question):
        s = _stem(t)
        if t in _QUESTION_NOISE or s in drop or s in seen or not any(c.isalpha() for c in t):
            continue
        seen.add(s)
        out.append(t)
    return out


def refusal_rule(question: str, years_covered: int | None) -> Refusal | None:
    """A question no filing can answer, whatever the index holds; None otherwise.

    ``years_covered``: the last fiscal year any filing of the companies in scope can report
    (None when unknown).
    """
    if not content_terms(question):
        return Refusal("empty", "the question names nothing to look for in a filing")
    if _ADVICE.search(question):
        return Refusal("advice", "filings report what happened; they give no investment advice")
    if _PREDICT.search(question) or (_WILL.search(question) and _FUTURE.search(question)):
        return Refusal("prediction", "filings report what happened; they do not predict the future")
    if _LIVE.search(question):
        return Refusal("live_data", "filings hold no live market data such as today's price")
    if years_covered is not None:
        asked = [int(m.group(1)) for m in _YEAR.finditer(question)]
        # +1: a fiscal year is named for the calendar year it ends in, and a 10-Q can be the
        # first filing of a fiscal year that ends next calendar year (NVIDIA's).
        if asked and min(asked) > years_covered + 1:
            return Refusal(
                "period",
                f"no filing here covers {min(asked)}: the latest covers fiscal {years_covered}",
            )
    return None


@dataclass(frozen=True)
class Features:
    cosine: float = 0.0
    cosine_gap: float = 0.0
    coverage: float = 0.0
    coverage_best: float = 0.0
    unknown: float = 0.0
    named: float = 0.0
    agree: float = 0.0
    described: float = 0.0
    rerank: float = 0.0

    def vector(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Model:
    """p = sigmoid(bias + sum(weight * feature)); weights fitted on the development set."""

    weights: dict[str, float] = field(default_factory=dict)
    bias: float = 0.0

    def probability(self, features: Features) -> float:
        z = self.bias + sum(self.weights.get(k, 0.0) * v for k, v in features.vector().items())
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


# Fitted by ``python tests/bench/bench_qa_honesty.py --fit`` on the development split only
# (196 questions that reach the model: answerable ones labelled by whether their top citation
# answers, refusal-set ones as not; L2 1.0, Newton). Its reliability on the held-out test split
# is printed by ``make bench``; the README has the figures.
FITTED = Model(
    weights={
        "cosine": 2.038,
        "cosine_gap": 0.261,
        "coverage": 0.599,
        "coverage_best": 0.101,
        "unknown": -1.049,
        "named": 0.596,
        "agree": 0.908,
        "described": -1.022,
    },
    bias=-2.247,
)
# The refusal threshold chosen with it (setting qa_min_confidence): under the highest one (0.37)
# that keeps wrongly refused answerable development questions at or under 2% and refuses no
# development hit@5.
DEFAULT_THRESHOLD = 0.35

# Without the embedding model (keyword-only search) no similarity is known: the development
# questions' means stand in for it, and abstention rests on the word-coverage features.
KEYWORD_ONLY_COSINE, KEYWORD_ONLY_GAP = 0.66, 0.02

# Document frequency of a term in the indexed passages (how many contain it), and their count.
DocFreq = Callable[[str], int]


class Judge:
    """Scores an answer's top citation; refuses below ``threshold``."""

    def __init__(self, model: Model = FITTED, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.model = model
        self.threshold = threshold

    def features(
        self,
        question: str,
        context: str,
        passages: Sequence[str],
        cosines: Sequence[float],
        agree: bool,
        named: bool,
        doc_freq: DocFreq,
        corpus: int,
    ) -> Features:
        """``passages``: the cited passages (header and text), best first; ``cosines``:
        their embedding similarity to the question (NaN when unknown)."""
        focus = content_terms(question, context)
        described = float(not named and bool(_DESCRIBED.search(question)))
        if not focus or not passages:
            return Features(named=float(named), described=described)
        freq = {t: doc_freq(t) for t in focus}
        weights = {_stem(t): _idf(freq[t], corpus) for t in focus}
        total = sum(weights.values()) or 1.0
        unknown = sum(_idf(0, corpus) for t in focus if freq[t] == 0) / total
        shares = [_coverage(weights, p) / total for p in passages]
        cos = [0.0 if math.isnan(c) else c for c in cosines] or [0.0]
        rest = cos[1:]
        gap = cos[0] - (sum(rest) / len(rest)) if rest else 0.0
        if cosines and all(math.isnan(c) for c in cosines):
            cos, gap, agree = [KEYWORD_ONLY_COSINE], KEYWORD_ONLY_GAP, True
        return Features(
            cosine=cos[0],
            cosine_gap=gap,
            coverage=shares[0],
            coverage_best=max(shares),
            unknown=unknown,
            named=float(named),
            agree=float(agree),
            described=described,
        )

    def confidence(self, features: Features) -> float:
        return self.model.probability(features)


def _idf(df: int, corpus: int) -> float:
    return math.log((corpus + 1) / (df + 1)) + 1.0


def _coverage(weights: dict[str, float], passage: str) -> float:
    have = {_stem(t) for t in terms(passage)}
    return sum(w for t, w in weights.items() if t in have)


def _stem(word: str) -> str:
    """A light suffix strip, so 'employees' meets 'employee' and 'sold' stays 'sold'."""
    for suffix in ("ies", "es", "s", "ing", "ed", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word
