"""The aggregation rule and the language check, on made-up sentence probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from tokenizers import Tokenizer

from appliance.nlp.aggregate import aggregate, role_weight, sentence_weights
from appliance.nlp.language import NO_LANGUAGE_SCORES, has_language
from appliance.nlp.paths import ModelPaths

NEG, NEU, POS = [0.8, 0.15, 0.05], [0.05, 0.9, 0.05], [0.05, 0.15, 0.8]


def test_outlook_outweighs_a_line_item_and_contrast_adds() -> None:
    sents = ["Revenue rose 5% in the quarter.", "But guidance was cut sharply."]
    agg = aggregate(sents, np.array([POS, NEG]), [True, True], neutral=1)
    assert agg.argmax() == 0
    assert role_weight(sents[1]) == 4 * 1.5 and role_weight(sents[0]) == 1


def test_bottom_line_outweighs_revenue() -> None:
    sents = ["Net sales fell 2%.", "Net income rose 12% to a record."]
    assert aggregate(sents, np.array([NEG, POS]), [True, True], neutral=1).argmax() == 2


def test_logistics_sentences_are_set_aside() -> None:
    sents = [
        "The call will be held on May 2 at 9 a.m. Eastern time.",
        "The webcast will be available on the investor relations site.",
        "Net loss widened to $31 million.",
    ]
    w = sentence_weights(sents, np.array([NEU, NEU, NEG]), [True] * 3, neutral=1)
    assert w.sum() == pytest.approx(1.0)
    assert w[2] > 0.5 and w[0] == w[1]
    assert aggregate(sents, np.array([NEU, NEU, NEG]), [True] * 3, neutral=1).argmax() == 0


def test_all_neutral_stays_neutral_and_sentences_without_words_weigh_nothing() -> None:
    sents = ["The meeting is on May 5.", "12312 ;;; zzz"]
    w = sentence_weights(sents, np.array([NEU, POS]), [True, False], neutral=1)
    assert w.tolist() == [1.0, 0.0]
    only_noise = sentence_weights(["%%%", "123"], np.array([POS, NEG]), [False, False], 1)
    assert only_noise.tolist() == [0.5, 0.5]


@pytest.fixture(scope="module")
def vocabulary(model_paths: ModelPaths) -> set[str]:
    return set(Tokenizer.from_file(str(model_paths.sentiment / "tokenizer.json")).get_vocab())


@pytest.mark.parametrize(
    "text", ["12312 ;;; zzz", "4411 ;; qq", "$$ -- 0.0", "hjkl poiu", "asdf qwerty", "...", "(3.2)"]
)
def test_no_language(text: str, vocabulary: set[str]) -> None:
    assert not has_language(text, vocabulary)


@pytest.mark.parametrize(
    "text", ["Beats EPS; raises guidance", "EPS up 5%", "Revenue rose.", "Margins improved"]
)
def test_language(text: str, vocabulary: set[str]) -> None:
    assert has_language(text, vocabulary)


def test_no_language_scores_are_neutral_and_unsure() -> None:
    assert max(NO_LANGUAGE_SCORES, key=NO_LANGUAGE_SCORES.__getitem__) == "neutral"
    assert max(NO_LANGUAGE_SCORES.values()) < 0.6
    assert sum(NO_LANGUAGE_SCORES.values()) == pytest.approx(1.0)
