"""Query analysis, keyword queries and the extractive answer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from appliance.db.queries.rag import CompanyRow
from appliance.rag.answer import (
    STALE_WEIGHT,
    Similarity,
    answer_text,
    best_sentences,
    compose,
    newest_first,
    no_answer,
    sentence_similarity,
)
from appliance.rag.keyword import fts_query, terms
from appliance.rag.query import CompanyMatcher, analyze, normalize_name

COMPANIES = [
    CompanyRow(320193, ("APPLE COMPUTER INC", "Apple Inc."), ("AAPL",)),
    CompanyRow(1045810, ("NVIDIA CORP",), ("NVDA",)),
    CompanyRow(1318605, ("Tesla, Inc.",), ("TSLA",)),
    CompanyRow(859368, ("MEDICIS PHARMACEUTICAL CORPORATION",), ()),
    CompanyRow(1253347, ("COMMONWEALTH INCOME & GROWTH FUND V",), ()),
    CompanyRow(9, ("Apple Hospitality REIT, Inc.",), ("APLE",)),
    CompanyRow(10, ("American Express Co",), ("AXP",)),
]


def test_normalize_name() -> None:
    assert normalize_name("Apple Computer, Inc.") == "apple computer"
    assert normalize_name("Commonwealth Income & Growth Fund V") == (
        "commonwealth income and growth fund v"
    )
    assert normalize_name("Tesla's") == "tesla"


def test_company_names_short_forms_and_tickers() -> None:
    m = CompanyMatcher(COMPANIES)
    assert m.find("How many employees does Nvidia have?") == {1045810}
    assert m.find("Compare AAPL and TSLA margins") == {320193, 1318605}
    assert m.find("What did Apple Computer say in 1995?") == {320193}
    assert m.find("Medicis acne products") == {859368}
    assert m.find("Apple Hospitality REIT dividends") == {9}
    # "apple" alone is ambiguous between two companies here: exact name only.
    assert m.find("apple orchards") == {320193}
    # Generic first words are never aliases on their own; ordinary capitals are not tickers.
    assert m.find("American consumers and the CEO of IT") == set()


def test_plan_years_latest_form_and_items() -> None:
    m = CompanyMatcher(COMPANIES)
    p = analyze("What legal proceedings did Apple disclose in its latest 10-Q?", m)
    assert p.companies == {320193} and p.latest and p.form_hint == "10-Q"
    assert {"3", "part2_item1"} <= p.items
    p = analyze("Apple's headcount at the end of fiscal 2023 (FY24 too)", m)
    assert p.years == (2023, 2024) and "1" in p.items and not p.latest
    p = analyze("Risk factors in the annual report", m)
    assert p.form_hint == "10-K" and "1A" in p.items and p.companies == frozenset()


@pytest.mark.parametrize(
    "question",
    [
        "What is Apple's most recently reported employee count?",
        "What has NVIDIA recently said about export rules?",
        "How many people does Apple employ now?",
        "Where does Tesla's Cybertruck stand today?",
        "Apple's current share repurchase program",
    ],
)
def test_words_of_recency_ask_for_the_newest_filing(question: str) -> None:
    assert analyze(question, CompanyMatcher(COMPANIES)).latest


@pytest.mark.parametrize(
    "question", ["How many employees did Apple have?", "Nvidia's revenue in fiscal 2024"]
)
def test_no_word_of_recency_is_not_latest(question: str) -> None:
    assert not analyze(question, CompanyMatcher(COMPANIES)).latest


def test_keyword_query_is_quoted_and_expanded() -> None:
    assert terms("How many people does Tesla's company employ?") == ["people", "tesla", "employ"]
    q = fts_query('How many people? "NEAR" AND (10-K) -x')
    assert q is not None
    assert q.startswith('"people" OR "near" OR "10-k"') and '"employees"' in q
    assert fts_query("what is the") is None


@pytest.fixture(params=["words", "words + meaning"])
def similarity(request: pytest.FixtureRequest) -> Similarity | None:
    """The extractive answer's rules hold with sentences scored by shared words alone and
    with their meaning by the real embedder (what the server does)."""
    if request.param == "words":
        return None
    return sentence_similarity(request.getfixturevalue("embedder"))


def test_meaning_finds_the_answer_that_shares_no_word_with_the_question(embedder: Any) -> None:
    chunks = [
        "The Company's programs, funded with $25 million in 2025, help workers thrive in their"
        " professional and personal lives. At the end of the fiscal year the Company had"
        " approximately 58,000 full-time equivalent employees."
    ]
    question = "How large is the company's labor force?"
    # No word of the question is in the passage: by words alone the answer falls back to the
    # passage's first sentence.
    assert best_sentences(question, chunks) == []
    assert compose(question, chunks).startswith("The Company's programs")
    similarity = sentence_similarity(embedder)
    best = best_sentences(question, chunks, similarity=similarity)
    assert "58,000 full-time equivalent employees" in best[0].text
    assert compose(question, chunks, similarity=similarity).startswith("At the end of the fiscal")
    assert sentence_similarity(None) is None


def test_analyst_words_meet_the_filing_words_in_the_answer(
    similarity: Similarity | None,
) -> None:
    chunks = [
        "Operating expenses rose with headcount. Research and development expense was $31.4"
        " billion, up 5%. Selling, general and administrative expense was $26.1 billion."
    ]
    best = best_sentences(
        "What was the company's R&D spend last year?", chunks, similarity=similarity
    )
    assert best[0].text.startswith("Research and development expense was $31.4 billion")


def _hit(filed: str, text: str) -> Any:
    """The parts of a search hit the answer reads."""
    return SimpleNamespace(
        citation=SimpleNamespace(filing_date=filed, text=text, header=f"Acme 10-K filed {filed}.")
    )


def test_a_question_asking_for_the_latest_is_answered_from_the_newest_filing_first(
    embedder: Any,
) -> None:
    hits = [
        _hit("2002-12-19", "As of September 28, 2002, the Company had 10,211 employees."),
        _hit("2025-10-31", "As of September 27, 2025, the Company had 166,000 employees."),
    ]
    question = "How many employees does the Company have now?"
    for by in (None, embedder):
        # The search's order first, unless the question asks for the latest.
        assert answer_text(question, hits, by).startswith("As of September 28, 2002")
        latest = answer_text(question, hits, by, latest=True)
        assert latest.startswith("As of September 27, 2025") and "10,211" in latest
    assert newest_first(hits, latest=False) is None
    assert newest_first(hits, latest=True) == [STALE_WEIGHT, 1.0]


def test_extractive_answer_marks_citations(similarity: Similarity | None) -> None:
    chunks = [
        "The Company designs smartphones. As of September 27, 2025, the Company had "
        "approximately 166,000 full-time equivalent employees.",
        "Employees may participate in the stock plan. The weather was fine.",
    ]
    best = best_sentences("How many employees does Apple have?", chunks, similarity=similarity)
    assert best[0].citation == 1 and "166,000" in best[0].text
    text = compose("How many employees does Apple have?", chunks, similarity=similarity)
    assert "166,000 full-time equivalent employees. [1]" in text
    assert "weather" not in text
    assert "2024-01-01" in no_answer(ticker="AAPL", cutoff="2024-01-01", company_named=False)


def test_context_words_do_not_pick_the_answer(similarity: Similarity | None) -> None:
    chunks = [
        "As of September 27, 2025, the Company had approximately 166,000 full-time "
        "equivalent employees.",
        "The Company offers programs through Apple University on leadership and Apple culture.",
    ]
    header = "Apple Inc. (AAPL) 10-K for fiscal year 2025. Item 1. Business."
    text = compose(
        "How many employees does Apple have?", chunks, context=header, similarity=similarity
    )
    assert text.startswith("As of September 27, 2025") and "Apple University" not in text


def test_a_how_much_question_is_answered_by_the_sentence_with_the_figure(
    similarity: Similarity | None,
) -> None:
    chunks = [
        "Gaming demand weakened during the year as channel inventory was reduced. Gaming "
        "revenue for fiscal year 2023 was $9.07 billion, down 27% from fiscal year 2022.",
        "Gaming revenue depends on the launch of new GPU architectures in fiscal year 2023.",
    ]
    best = best_sentences(
        "How much did NVIDIA's gaming revenue fall in fiscal 2023?", chunks, similarity=similarity
    )
    assert best[0].citation == 1 and "$9.07 billion" in best[0].text
    # The sentence without a figure counts less, even with the same words.
    assert all(s.score < best[0].score for s in best[1:])


def test_a_figure_answer_quotes_no_sentence_without_a_figure(similarity: Similarity | None) -> None:
    chunks = [
        "As of September 27, 2025, the Company had approximately 166,000 full-time equivalent"
        " employees. The Company believes that compensation should be competitive and offers"
        " equity awards to enable employees to share in the Company's success.",
        "As of September 28, 2024, the Company had approximately 164,000 full-time equivalent"
        " employees.",
    ]
    text = compose("How many employees does Apple have?", chunks, similarity=similarity)
    assert text.startswith("As of September 27, 2025") and "164,000" in text
    assert "compensation" not in text
    # A question that asks for no figure still gets the other sentence that matches.
    text = compose(
        "What does Apple say about employees and compensation?", chunks, similarity=similarity
    )
    assert "compensation" in text
    # A small count is a number too: "40 retail stores" stays, the sentence with none goes.
    stores = [
        "Retail stores had 166,000 employees. The Company operated retail stores in malls.",
        "The Company operated 40 retail stores downtown.",
    ]
    text = compose("How many retail stores did the Company operate?", stores, similarity=similarity)
    assert text.startswith("Retail stores had 166,000") and "40 retail stores" in text
    assert "in malls" not in text
    # With no sentence stating a figure, the best words-only sentence still answers.
    words_only = ["Employees share in the Company's success through equity awards."]
    assert compose(
        "How many employees does Apple have?", words_only, similarity=similarity
    ).startswith("Employees")


def test_a_line_of_dates_is_never_quoted(similarity: Similarity | None) -> None:
    # An old plain-text filing's table heads, flattened into a line of their own.
    chunks = [
        "Three Months Ended April 1, 2000 March 27, 1999\nThe Company is subject to legal"
        " proceedings and claims discussed in the 1999 Form 10-K."
    ]
    text = compose(
        "What legal proceedings did the Company disclose in April 2000?",
        chunks,
        similarity=similarity,
    )
    assert text.startswith("The Company is subject to legal proceedings")
    assert "March 27, 1999" not in text
    # A dated row with figures is an answer.
    rows = [
        "Shares repurchased by period (in thousands)\nJune 29 - July 26, 2025 | 12,500 | $210.12"
    ]
    text = compose("How many shares were repurchased in July 2025?", rows, similarity=similarity)
    assert "June 29 - July 26, 2025 | 12,500" in text


def test_a_table_row_is_quoted_under_its_column_headers(similarity: Similarity | None) -> None:
    table = (
        "The following table shows net sales by category for 2025, 2024 and 2023 (dollars in"
        " millions):\n2025 | Change | 2024 | Change | 2023\n"
        "iPhone | $209,586 | 4% | $201,183 | —% | $200,583\n"
        "Mac | 33,708 | 12% | 29,984 | 2% | 29,357"
    )
    prose = "iPhone net sales increased during 2025 due to higher net sales of Pro models."
    text = compose(
        "How much iPhone revenue did Apple book in fiscal 2025?",
        [table, prose],
        similarity=similarity,
    )
    first = text.split(" [")[0]
    header, row = first.split(" / ")
    assert header == "2025 | Change | 2024 | Change | 2023"
    assert row == "iPhone | $209,586 | 4% | $201,183 | —% | $200,583"
    assert "Mac |" not in text  # the other rows share only the headers' words
    # Both quoted lines are verbatim in the cited passage.
    assert header in table and row in table
