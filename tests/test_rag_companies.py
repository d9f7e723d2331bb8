"""Company resolution against the whole bundled ticker map (10,218 tickers): names, tickers,
short forms, former names, and no matches on ordinary words."""

from __future__ import annotations

import pytest

from appliance.db.queries.companies import DirectoryRows
from appliance.edgar.sample import sample_dir
from appliance.edgar.symbols import parse_ticker_file
from appliance.rag.companies import CompanyDirectory, Lexicon, name_key

APPLE, MICROSOFT, ALPHABET, META, NVIDIA = 320193, 789019, 1652044, 1326801, 1045810
MEDICIS = 859368


@pytest.fixture(scope="module")
def directory() -> CompanyDirectory:
    parsed = parse_ticker_file((sample_dir() / "company_tickers_exchange.json.gz").read_bytes())
    symbols = [(r.ticker, r.cik, r.name, n) for n, r in enumerate(parsed.rows)]
    names = [
        (APPLE, "APPLE COMPUTER INC", "former"),  # from imported submissions JSON
        (MEDICIS, "MEDICIS PHARMACEUTICAL CORPORATION", "filing"),  # delisted, filings only
    ]
    return CompanyDirectory(DirectoryRows(symbols, names, []), Lexicon.load())


def tickers(directory: CompanyDirectory, question: str) -> list[str | None]:
    return [m.company.ticker for m in directory.resolve(question)]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many employees does Microsoft have?", ["MSFT"]),
        ("What was MSFT total revenue in fiscal 2025?", ["MSFT"]),
        ("How much does Google make from search ads?", ["GOOGL"]),
        ("How much long-term debt does Alphabet Inc. carry?", ["GOOGL"]),
        ("What does Meta spend on Reality Labs?", ["META"]),
        ("What did Facebook report for daily active users?", ["META"]),
        ("How much of Nvidia's revenue comes from China?", ["NVDA"]),
        ("How did Target's comparable sales trend last quarter?", ["TGT"]),
        ("How were Best Buy's holiday sales?", ["BBY"]),
        ("Compare Apple and Microsoft R&D spending.", ["AAPL", "MSFT"]),
        ("What do Visa and Mastercard disclose about interchange litigation?", ["V", "MA"]),
        ("How does Lowe's pro customer mix compare with Home Depot's?", ["LOW", "HD"]),
        ("What were The Home Depot, Inc.'s comparable sales?", ["HD"]),
        ("How did Wal-Mart Stores' international segment perform?", ["WMT"]),
        ("How much of Domino's Pizza's sales come from delivery?", ["DPZ"]),
        ("How much cash is Berkshire sitting on?", ["BRK-B"]),
        ("Why are $TSLA margins compressing?", ["TSLA"]),
        ("What did (NASDAQ: AAPL) say about services growth?", ["AAPL"]),
        ("Is the NYSE:KO dividend safe?", ["KO"]),
        ("What did NYSE: F say about tariffs?", ["F"]),
        ("What's the credit outlook in JPM's 10-K?", ["JPM"]),
        ("What is the BRK.B float?", ["BRK-B"]),
        ("microsoft azure growth rate", ["MSFT"]),
        ("How did Apple Computer handle the PowerPC transition?", ["AAPL"]),
        ("How many full-time employees did Medicis have?", [None]),
        ("How much silicon carbide revenue does onsemi (ON Semiconductor) make?", ["ON"]),
        ("What IT costs does Microsoft disclose?", ["MSFT"]),
        ("Is Boeing ON track to hit ALL of its delivery goals?", ["BA"]),
        ("What did Microsoft Corporation report for Intelligent Cloud revenue?", ["MSFT"]),
        ("How many Tinder payers does Match Group have?", ["MTCH"]),
    ],
)
def test_companies_are_found(
    directory: CompanyDirectory, question: str, expected: list[str | None]
) -> None:
    assert tickers(directory, question) == expected


@pytest.mark.parametrize(
    "question",
    [
        # The traps: ordinary words that are also names or tickers.
        "What is our Target gross margin",
        "What is our target gross margin for next year?",
        "Give me a recipe for Apple pie",
        "That is a General statement about risk",
        "What are the Visa requirements for travelling to Japan?",
        "Is A a good letter grade?",
        "What does IT spending look like at a typical bank?",
        "When should management turn ON hedge accounting?",
        "Did ALL of the analysts agree?",
        "What ARE the main drivers of operating leverage?",
        "How big is the finance TEAM at a typical mid-cap company?",
        "Do we have any intel on the competitor's pricing?",
        "What is a meta-analysis?",
        "Our machining needs micron-level precision",
        "When was Abraham Lincoln president?",
        "What is the EPS and EBITDA of an ETF?",
        "purple monkey dishwasher banana",
        "What is the capital of France?",
        "",
    ],
)
def test_ordinary_words_are_not_companies(directory: CompanyDirectory, question: str) -> None:
    assert tickers(directory, question) == []


def test_lookups_and_name_keys(directory: CompanyDirectory) -> None:
    msft = directory.by_ticker("msft")
    assert msft is not None and msft.cik == MICROSOFT and msft.name == "MICROSOFT CORP"
    assert msft.public() == {"ticker": "MSFT", "cik": MICROSOFT, "company": "MICROSOFT CORP"}
    goog = directory.by_ticker("GOOG")
    assert goog is not None and goog.ticker == "GOOGL"  # the primary listing of the CIK
    assert directory.by_ticker("BRK.B") == directory.by_ticker("BRK-B")
    assert directory.by_ticker("../etc") is None and directory.by_ticker("ZZZZZZ") is None
    assert directory.by_cik(NVIDIA) is not None and len(directory) > 7_000
    assert name_key("WELLS FARGO & COMPANY/MN") == ("well", "fargo")
    assert name_key("The Home Depot, Inc.") == ("home", "depot")
    assert name_key("Amazon.com, Inc.") == ("amazon",)


def test_former_names_resolve_to_the_same_company(directory: CompanyDirectory) -> None:
    (mention,) = directory.resolve("What did Apple Computer say in 1995?")
    assert mention.company.cik == APPLE and mention.how == "former"
