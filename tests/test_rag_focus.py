"""Passage focus (appliance.rag.focus): the share of a question one sentence or row holds."""

from __future__ import annotations

import pytest

from appliance.rag.focus import QueryFocus
from appliance.rag.keyword import fts_query

SCATTERED = (
    "Research spending rose across the industry. Our products face competition. "
    "Development cycles are long and uncertain."
)
TOGETHER = (
    "The industry is competitive. Research and development expense was $31,370 million, "
    "up 5% from the prior year."
)


def test_one_sentence_holding_the_question_beats_words_scattered_over_several() -> None:
    focus = QueryFocus("How much was research and development expense?")
    assert focus(TOGETHER) == pytest.approx(1.0)
    assert focus(SCATTERED) < 0.5


def test_a_how_much_question_halves_a_sentence_without_a_figure() -> None:
    focus = QueryFocus("How much was research and development expense?")
    no_figure = "Research and development expense increased as headcount grew."
    assert focus(no_figure) == pytest.approx(0.5)
    plain = QueryFocus("Why did research and development expense increase?")
    assert plain(no_figure) == pytest.approx(1.0)


def test_table_rows_are_units_and_synonyms_count_as_the_word() -> None:
    focus = QueryFocus("What was capex?")
    table = (
        "Cash flows\nNet income | 93,736 | 96,995\n"
        "Payments for property, plant and equipment | (12,715) | (9,447)"
    )
    assert focus(table) == pytest.approx(1.0)
    assert focus("Net income | 93,736 | 96,995") == 0.0


def test_years_are_left_to_the_period_boosts_and_no_words_means_no_focus() -> None:
    focus = QueryFocus("What was revenue in 2024?")
    assert focus("Revenue was $391 billion.") == pytest.approx(1.0)
    assert QueryFocus("What was it?")("Revenue was $391 billion.") == 0.0


def test_analyst_shorthand_expands_to_the_words_statements_use() -> None:
    match = fts_query("Tesla capex and R&D")
    assert match is not None
    for word in ("capex", "capital", "expenditures", "property", "equipment", "research"):
        assert f'"{word}"' in match


def test_the_company_searched_and_words_of_time_are_left_out() -> None:
    # Its passages say "we" or "the Company"; "latest" is the recency boosts' business.
    answer = "We had approximately 36,000 employees in 38 countries."
    named = QueryFocus("What is Acme's latest headcount?", frozenset({"acme"}))
    assert named(answer) == pytest.approx(1.0)
    unnamed = QueryFocus("What is Acme's latest headcount?")
    assert unnamed(answer) == pytest.approx(0.5)
