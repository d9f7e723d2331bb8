"""Sentence splitting on financial prose."""

from __future__ import annotations

import pytest

from appliance.nlp.sentences import split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Operating profit rose to EUR 13.1 mn. Net sales increased 5.2% to EUR 200 mn.",
            ["Operating profit rose to EUR 13.1 mn.", "Net sales increased 5.2% to EUR 200 mn."],
        ),
        (
            "Apple Inc. reported results. The U.S. market grew.",
            ["Apple Inc. reported results.", "The U.S. market grew."],
        ),
        (
            "Mr. J. Smith said sales in the U.S. were strong.",
            ["Mr. J. Smith said sales in the U.S. were strong."],
        ),
        (
            "We sold it to Acme Corp. The deal closed in Jan. 2024 as planned.",
            ["We sold it to Acme Corp.", "The deal closed in Jan. 2024 as planned."],
        ),
        (
            "See Note No. 5 for details. Its U.K. unit grew approx. 4% in 2024.",
            ["See Note No. 5 for details.", "Its U.K. unit grew approx. 4% in 2024."],
        ),
        (
            "Shares rose 3%. Revenue was $1.2 billion! Will it last? Analysts say yes.",
            ["Shares rose 3%.", "Revenue was $1.2 billion!", "Will it last?", "Analysts say yes."],
        ),
        ('"Sales were strong." The CEO said so.', ['"Sales were strong."', "The CEO said so."]),
        ("It cost 3.5 mn. EUR 2 mn was paid.", ["It cost 3.5 mn.", "EUR 2 mn was paid."]),
        (
            "Risk factors:\n\n• Demand may fall.\n• Costs may rise.",
            ["Risk factors:", "• Demand may fall.", "• Costs may rise."],
        ),
        ("The U.S. Securities and Exchange Commission approved it.", None),
        ("margins held. but lower-case text after a period does not split", None),
    ],
)
def test_split(text: str, expected: list[str] | None) -> None:
    assert split_sentences(text) == (expected if expected is not None else [text])


def test_whitespace_and_empty() -> None:
    assert split_sentences("") == []
    assert split_sentences("  \n\n ") == []
    assert split_sentences("Net sales\nincreased 2%.\n") == ["Net sales increased 2%."]


def test_real_filing_paragraph_keeps_every_word() -> None:
    para = (
        "Total net sales increased 2% or $7.8 billion during 2024 compared to 2023. "
        "The weakness in foreign currencies relative to the U.S. dollar had an unfavorable "
        "year-over-year impact on all Products and Services net sales during 2024. "
        "The Company's fiscal year is the 52- or 53-week period that ends on the last "
        "Saturday of September."
    )
    got = split_sentences(para)
    assert len(got) == 3
    assert " ".join(got).split() == para.split()
