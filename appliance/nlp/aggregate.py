"""How a text's sentiment follows from its sentences' (the rule the README documents).

Investors do not average a press release: an outlook cut outweighs a revenue beat, and the
date of the earnings call says nothing. So each sentence's probabilities are weighted by
what it is about and how it is phrased, and the text's scores are the weighted mean:

- **role**: outlook, guidance and solvency (guidance, forecast, going concern, default,
  liquidity, covenants) weigh 4; the bottom line or a verdict (net income, EPS, operating
  profit, beat or miss, rating actions, dividends, the share price) weigh 2; anything else 1;
- **contrast**: a sentence opening with "But", "However", "Still", "Nevertheless", "Yet" or
  "That said" weighs 1.5 times more (the later contrastive clause usually decides);
- **set aside**: when any sentence is positive or negative, the neutral ones (logistics,
  boilerplate) weigh a quarter;
- **no language**: a sentence without words (digits, punctuation, keyboard mashing) weighs
  nothing unless the whole text is like that.

The text's label is the arg-max of its scores, so label and scores never disagree. The
rule names no company, year or metric value; it follows the annotation guideline of the
formal evaluation set (``models/sentiment/data/formal/GUIDELINE.md``, section 4).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_OUTLOOK = re.compile(
    r"\b(guidance|outlook|forecasts?|full[- ]year|expects?|expected to|projects?|targets?"
    r"|going concern|substantial doubt|default(ed|s)?|bankruptcy|chapter 11|liquidity"
    r"|covenants?|forbearance|runway)\b",
    re.I,
)
_BOTTOM_LINE = re.compile(
    r"\b(net (income|loss|earnings|profit)|earnings|eps|per share|operating (income|profit|loss)"
    r"|profits?|beat|beats|missed|misses|estimates|consensus|expectations|rating|ratings"
    r"|downgraded?|upgraded?|dividends?|shares (rose|fell|jumped|plunged|gained|dropped|slid)"
    r"|stock (rose|fell|jumped|plunged|gained|dropped|slid))\b",
    re.I,
)
_CONTRAST = re.compile(
    r"^\W*(but|however|still|nevertheless|nonetheless|yet|that said|even so)\b", re.I
)

OUTLOOK_WEIGHT = 4.0
BOTTOM_LINE_WEIGHT = 2.0
CONTRAST_WEIGHT = 1.5
SET_ASIDE_WEIGHT = 0.25


def role_weight(sentence: str) -> float:
    """4 for outlook/solvency, 2 for the bottom line or a verdict, 1 otherwise; x1.5 on contrast."""
    if _OUTLOOK.search(sentence):
        w = OUTLOOK_WEIGHT
    elif _BOTTOM_LINE.search(sentence):
        w = BOTTOM_LINE_WEIGHT
    else:
        w = 1.0
    return w * CONTRAST_WEIGHT if _CONTRAST.search(sentence) else w


def sentence_weights(
    sentences: Sequence[str], probs: np.ndarray, has_words: Sequence[bool], neutral: int
) -> np.ndarray:
    """Each sentence's share of the text's scores (summing to 1), by the rule above."""
    if len(sentences) == 0:
        raise ValueError("no sentences to weigh")
    words = np.asarray(has_words, bool)
    if not words.any():
        words = np.ones_like(words)
    weights = np.array([role_weight(s) for s in sentences]) * words
    polar = (probs.argmax(1) != neutral) & words
    if polar.any():
        weights = np.where(polar, weights, weights * SET_ASIDE_WEIGHT)
    out: np.ndarray = weights / weights.sum()
    return out


def aggregate(
    sentences: Sequence[str], probs: np.ndarray, has_words: Sequence[bool], neutral: int
) -> np.ndarray:
    """The text's probabilities from its sentences' ``probs`` ``(n, labels)``."""
    w = sentence_weights(sentences, probs, has_words, neutral)
    out: np.ndarray = (probs * w[:, None]).sum(0)
    return out
