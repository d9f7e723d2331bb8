"""Hand-written financial direction rules: weak labels and direction-swapped variants.

Build-time only. Written for this project from an investor's point of view (not a copy of
any published word list): a sentence's polarity is the *direction* a *metric* moved times
whether more of that metric is good ("revenue rose" is good, "costs rose" is bad, "the loss
narrowed" is good), plus a few phrases that are bad or good news on their own (going-concern
doubt, impairment charges, defaults; record results, raised guidance). Nothing here names a
company, a year or a product.

``weak_label`` answers only when its rules fire one way and nothing contradicts them (no
hedge such as "could", "may", "if", no opposite signal); the rest of the pool stays
unlabelled. Risk-factor hedges ("could adversely affect") are labelled *neutral*: investors
read them as boilerplate, and the annotation guideline (``data/formal/GUIDELINE.md``) says so.

``swap_direction`` turns "Operating expenses decreased 8%" into "Operating expenses increased
8%": the teacher labels both, so the student sees the same sentence with both directions.
"""

from __future__ import annotations

import re

# Metrics where more is better for shareholders.
GOOD_MORE = (
    r"revenues?|net sales|sales|net income|operating income|income from operations|earnings"
    r"|profits?|profitability|gross margins?|operating margins?|margins?|ebitda|eps"
    r"|earnings per share|cash flows?|free cash flow|backlog|orders|bookings|demand"
    r"|market share|dividends?|deliveries|shipments|guidance|outlook|forecast|liquidity"
    r"|cash and cash equivalents|gross profit|volumes?|same-store sales|comparable sales"
    r"|subscribers|customers|average selling prices?|stock price|share price|shares"
    r"|return on equity|ratings?"
)
# Metrics where more is worse.
GOOD_LESS = (
    r"costs?|expenses|operating expenses|losses|net loss|loss|debt|borrowings|indebtedness"
    r"|leverage|charges|impairments?|write-downs?|churn|delinquencies|defaults?"
    r"|unemployment|inventory write-downs|headcount reductions|cost of sales|cost of revenue"
    r"|interest expense|provision for credit losses|deficit|liabilities|days sales outstanding"
)
UP = (
    r"increased|increases|increase|rose|rise|rising|grew|grows|growing|growth in|higher"
    r"|expanded|expands|widened|widens|improved|improves|improvement in|climbed|jumped|surged"
    r"|soared|doubled|tripled|rebounded|accelerated|up \d[\d.,]*\s?%|raised|raises|beat|beats"
    r"|exceeded|exceeds|strengthened|record"
)
DOWN = (
    r"decreased|decreases|decrease|declined|declines|decline in|fell|falls|falling|dropped"
    r"|drops|lower|contracted|narrowed|narrows|shrank|deteriorated|weakened|slowed|slumped"
    r"|plunged|tumbled|halved|down \d[\d.,]*\s?%|cut|cuts|lowered|reduced|reduces|missed"
    r"|misses|fell short of|below expectations|eroded"
)
# Bad or good news on their own, whatever the metric.
BAD_NEWS = (
    r"substantial doubt|impairment charges?|recorded (an|a) (goodwill )?impairment|wrote off"
    r"|wrote down|default(ed)? on|filed for bankruptcy|chapter 11|insolvency|delisted"
    r"|material weakness|restate(d)? (its|our) (financial statements|results)"
    r"|covenant (breach|violation)|breached|profit warning|layoffs|laid off"
    r"|suspended (its|the) dividend|net loss widened|downgraded"
    r"|cut (its|the|our) (dividend|guidance|outlook|forecast)"
)
GOOD_NEWS = (
    r"record (revenue|sales|earnings|profit|quarter|year)"
    r"|raised (its|the|our) (guidance|outlook|forecast|dividend)"
    r"|upgraded|returned to profitability|beat (estimates|expectations|consensus)"
    r"|exceeded (estimates|expectations|consensus)|all-time high|won a contract|awarded a contract"
)
# A hedge or condition makes the sentence a risk statement, not an outcome.
HEDGE = (
    r"\b(could|may|might|would|if|unless|should|cannot assure|no assurance|there can be no"
    r"|risk|risks|uncertain|uncertainty|potential|potentially|expect|expects|anticipate|believe"
    r"|historically|generally|typically|from time to time|seasonal|seasonality)\b"
)

_GOOD_MORE = re.compile(rf"\b({GOOD_MORE})\b", re.I)
_GOOD_LESS = re.compile(rf"\b({GOOD_LESS})\b", re.I)
_UP = re.compile(rf"\b({UP})\b", re.I)
_DOWN = re.compile(rf"\b({DOWN})\b", re.I)
_BAD = re.compile(rf"\b({BAD_NEWS})\b", re.I)
_GOOD = re.compile(rf"\b({GOOD_NEWS})\b", re.I)
_HEDGE = re.compile(HEDGE, re.I)
_NEGATION = re.compile(r"\b(no|not|never|without|nor|neither)\b", re.I)
# The main clause ends where the explanation starts: "Revenue fell, primarily due to lower
# prices" is about revenue falling, and "lower prices" must not vote.
_EXPLANATION = re.compile(
    r",?\s+\b(due|primarily|mainly|largely|driven|as a result|reflecting|resulting|partially"
    r"|partly|offset|compared|versus|from \$|which|because|attributable|related to|respectively)\b",
    re.I,
)
# Legal history with no outcome: complaints, motions, hearings (neutral by the guideline).
_PROCEDURE = re.compile(
    r"\b(filed|alleg\w*|complaint|plaintiffs?|defendants?|motion|hearing|lawsuits?|petition"
    r"|appeal\w*|court|purported|putative|seeks?)\b",
    re.I,
)
_OUTCOME = re.compile(
    r"\b(ruled|granted|denied|dismiss\w*|settle\w*|judgment|verdict|awarded|fined?|penalt\w*"
    r"|paid|pay|damages of|jury found|affirmed|reversed)\b",
    re.I,
)
# Direction words anywhere: a sentence with none describes rather than reports a change.
_ANY_DIRECTION = re.compile(rf"\b({UP}|{DOWN}|{BAD_NEWS}|{GOOD_NEWS})\b", re.I)
# Within this many characters a direction word is read as applying to a metric.
_NEAR = 70

NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2


def _main_clause(text: str) -> str:
    m = _EXPLANATION.search(text)
    return text[: m.start()] if m and m.start() > 15 else text


def _signals(text: str) -> list[int]:
    """+1 / -1 for the main clause's subject metric and its direction word ([] if none).

    The subject is the first metric named ("Cost of energy revenue increased" is about a
    cost); its direction is the first direction word within ``_NEAR`` characters after it
    ("Net sales increased") or an adjective right before it ("higher net sales"). A negation
    in between voids it.
    """
    clause = _main_clause(text)
    found = [(m.start(), m.end(), 1) for m in _GOOD_MORE.finditer(clause)]
    found += [(m.start(), m.end(), -1) for m in _GOOD_LESS.finditer(clause)]
    if not found:
        return []
    start, end, sign = min(found)
    before = clause[max(0, start - 12) : start]
    after = clause[end : end + _NEAR]
    ups = [(m.start(), 1) for m in _UP.finditer(after)] + [
        (m.start(), -1) for m in _DOWN.finditer(after)
    ]
    if ups:
        pos, direction = min(ups)
        if _NEGATION.search(after[:pos]):
            return []
        return [sign * direction]
    up, down = _UP.search(before), _DOWN.search(before)
    if bool(up) != bool(down) and not _NEGATION.search(before):
        return [sign if up else -sign]
    return []


def weak_label(text: str, section: str = "") -> int | None:
    """A label when the rules are sure; None leaves the sentence to the teacher.

    Polar: a going-concern, impairment, default or similar event (negative), a record or
    raised guidance (positive), or every metric-direction pair of the main clause agreeing,
    with no hedge. Neutral (from the guideline's conventions): hedged risk-factor wording
    with no reported event, legal history with no outcome, and descriptions with no
    direction word at all, in the business, risk-factor and legal sections.
    """
    bad, good = bool(_BAD.search(text)), bool(_GOOD.search(text))
    hedged = bool(_HEDGE.search(text))
    negated = bool(_NEGATION.search(text))
    signals = _signals(text)
    if bad and not good and not negated:
        solvency = re.search(r"substantial doubt|going concern", text, re.I)
        if (solvency or not hedged) and not any(s > 0 for s in signals):
            return NEGATIVE
    if good and not bad and not hedged and not negated and not any(s < 0 for s in signals):
        return POSITIVE
    if signals and not hedged and not bad and not good:
        if all(s > 0 for s in signals):
            return POSITIVE
        if all(s < 0 for s in signals):
            return NEGATIVE
    if bad or good or signals:
        return None
    item = section.lower()
    if item in ("3", "part2_item1") and _PROCEDURE.search(text) and not _OUTCOME.search(text):
        return NEUTRAL
    if item in ("1a", "part2_item1a") and hedged:
        return NEUTRAL
    if item in ("1", "1a", "part2_item1a", "3") and not _ANY_DIRECTION.search(text):
        return NEUTRAL
    return None


_SWAP = {
    "increased": "decreased",
    "decreased": "increased",
    "increase": "decrease",
    "decrease": "increase",
    "increases": "decreases",
    "decreases": "increases",
    "rose": "fell",
    "fell": "rose",
    "grew": "declined",
    "declined": "grew",
    "higher": "lower",
    "lower": "higher",
    "improved": "deteriorated",
    "deteriorated": "improved",
    "expanded": "contracted",
    "contracted": "expanded",
    "widened": "narrowed",
    "narrowed": "widened",
    "beat": "missed",
    "missed": "beat",
    "raised": "lowered",
    "lowered": "raised",
    "strengthened": "weakened",
    "weakened": "strengthened",
    "gains": "losses",
    "gain": "loss",
    "up": "down",
    "down": "up",
    "exceeded": "fell short of",
}
_SWAP_RE = re.compile(r"\b(" + "|".join(sorted(_SWAP, key=len, reverse=True)) + r")\b", re.I)
# Only sentences where a direction word sits near a metric: elsewhere ("lower court",
# "gain access") a swap makes nonsense.
_METRIC = re.compile(rf"\b({GOOD_MORE}|{GOOD_LESS})\b", re.I)


def swap_direction(text: str) -> str | None:
    """The sentence with every direction word reversed, or None when it has none near a metric."""
    hits = list(_SWAP_RE.finditer(text))
    if not hits or not any(
        _METRIC.search(text[max(0, h.start() - _NEAR) : h.end() + _NEAR]) for h in hits
    ):
        return None

    def repl(m: re.Match[str]) -> str:
        word = m.group(0)
        new = _SWAP[word.lower()]
        return new[0].upper() + new[1:] if word[0].isupper() else new

    return _SWAP_RE.sub(repl, text)
