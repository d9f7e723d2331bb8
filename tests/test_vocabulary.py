"""The domain vocabulary: one definition of forms, tickers and section codes for every layer."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from appliance.api.filings import FilingQuery
from appliance.api.ops import IndexQuery
from appliance.api.qa import QARequest
from appliance.edgar.items import FORM_10K_ITEMS, FORM_10Q_ITEMS, catalog_for
from appliance.edgar.vocabulary import (
    SEC_ARCHIVES,
    form_family,
    is_section_code,
    is_ticker,
    item_label,
    normalize_ticker,
    periodic_family,
    section_code,
)
from appliance.rag.answer import filing_url


@pytest.mark.parametrize(
    ("form", "family"),
    [
        ("10-K", "10-K"),
        ("10-K405", "10-K"),
        ("10-K/A", "10-K"),
        ("10-KT", "10-K"),
        ("10K", "10-K"),  # the two old functions disagreed here
        (" 10-q/a ", "10-Q"),
        ("10Q", "10-Q"),
        ("8-K", "8-K"),  # ... and here (one said None)
        ("8K", "8-K"),
        ("20-F", "20-F"),
        ("S-1", "S-1"),
        ("def 14a", "DEF14A"),
    ],
)
def test_form_family_is_one_function(form: str, family: str) -> None:
    assert form_family(form) == family


def test_periodic_family_names_the_forms_split_into_items() -> None:
    assert periodic_family("10-K405") == "10-K" and periodic_family("10Q") == "10-Q"
    assert periodic_family("8-K") is None and periodic_family(None) is None
    assert periodic_family("") is None
    assert catalog_for("10K") is FORM_10K_ITEMS and catalog_for("10-Q/A") is FORM_10Q_ITEMS
    assert catalog_for("8-K") is None


@pytest.mark.parametrize("ticker", ["AAPL", "brk-b", "BF.A", "A", "1234567890ABCDEF"])
def test_tickers_accepted_everywhere(ticker: str) -> None:
    assert is_ticker(ticker) and normalize_ticker(f" {ticker} ") == ticker.upper()
    # The three API models take exactly the same tickers.
    assert QARequest(query="q", ticker=ticker).ticker == ticker
    assert IndexQuery(ticker=ticker).ticker == ticker
    assert FilingQuery(ticker=ticker).ticker == ticker


@pytest.mark.parametrize(
    "ticker", ["", "-A", ".A", "A B", "A/B", "../etc", "A" * 17, "ÄPPL", "AAPL;", "$AAPL"]
)
def test_non_tickers_refused_everywhere(ticker: str) -> None:
    assert not is_ticker(ticker) and normalize_ticker(ticker) is None
    for model, field in ((QARequest, "ticker"), (IndexQuery, "ticker"), (FilingQuery, "ticker")):
        extra = {"query": "q"} if model is QARequest else {}
        with pytest.raises(ValidationError):
            model(**{**extra, field: ticker})


def test_section_codes() -> None:
    assert section_code("1a") == "1A" and section_code("Part2_Item1A") == "part2_item1a"
    assert section_code("DOCUMENT") == "document"
    assert is_section_code("part1_item2") and is_section_code("7A")
    assert (
        not is_section_code("1A; DROP")
        and not is_section_code("")
        and not is_section_code("x" * 25)
    )
    assert item_label("1A") == "Item 1A" and item_label("part2_item1a") == "Part II, Item 1A"
    assert item_label("document") == "Document"


def test_archives_address_is_built_from_one_root() -> None:
    from appliance.db.queries.rag import CitationRow

    fields = dict.fromkeys(CitationRow.__dataclass_fields__)
    row = CitationRow(**{**fields, "accession": "0000320193-24-000123", "cik": 320193})  # type: ignore[arg-type]
    assert filing_url(row) == (
        f"{SEC_ARCHIVES}/320193/000032019324000123/0000320193-24-000123-index.html"
    )
