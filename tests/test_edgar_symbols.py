"""The ticker map: real SEC files in, a queryable, idempotent, all-or-nothing symbol table."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from appliance.bootstrap import initialize
from appliance.db.connection import Connection, connect, transaction
from appliance.db.queries import symbols as sq
from appliance.edgar.errors import InvalidSymbolFile
from appliance.edgar.sample import sample_dir
from appliance.edgar.symbols import parse_ticker_file, store_symbols, vintage_from_path
from appliance.settings import Settings
from tests.support.edgar_data import TICKERS_2024

BUNDLED = sample_dir() / "company_tickers_exchange.json.gz"


@pytest.fixture
def conn(settings: Settings) -> Iterator[Connection]:
    initialize(settings)
    c = connect(settings.db_path)
    yield c
    c.close()


def load(conn: Connection, data: bytes, day: str, source: str = "test") -> sq.Symbol | None:
    with transaction(conn):
        store_symbols(conn, parse_ticker_file(data), source, date.fromisoformat(day))
    return sq.symbol(conn, "AAPL")


def test_the_bundled_exchange_file_loads_with_exchanges(conn: Connection) -> None:
    parsed = parse_ticker_file(BUNDLED.read_bytes())
    assert parsed.kind == "company_tickers_exchange" and len(parsed.rows) == 10_218
    with transaction(conn):
        result = store_symbols(conn, parsed, "bundled", date(2025, 12, 14))
    assert (result.rows, result.total, result.changed) == (10_218, 10_218, 10_218)
    aapl = sq.symbol(conn, "aapl")
    assert aapl is not None and (aapl.cik, aapl.exchange, aapl.vintage) == (
        320193,
        "Nasdaq",
        "2025-12-14",
    )
    # One CIK, several tickers (share classes), primary listing first.
    assert [s.ticker for s in sq.tickers_for_cik(conn, 1652044)] == ["GOOGL", "GOOG"]
    assert len({r.cik for r in parsed.rows}) < len(parsed.rows)


def test_loading_the_same_file_again_changes_nothing(conn: Connection) -> None:
    data = BUNDLED.read_bytes()
    load(conn, data, "2025-12-14")
    with transaction(conn):
        again = store_symbols(conn, parse_ticker_file(data), "again", date(2025, 12, 14))
    assert again.changed == 0 and again.total == 10_218


def test_vintages_converge_to_the_newest_whatever_the_order(conn: Connection) -> None:
    old = gzip.decompress(TICKERS_2024.read_bytes())
    new = BUNDLED.read_bytes()
    load(conn, new, "2025-12-14")
    with transaction(conn):
        older = store_symbols(conn, parse_ticker_file(old), "old", date(2024, 5, 14))
    aapl = sq.symbol(conn, "AAPL")
    assert aapl is not None and aapl.vintage == "2025-12-14" and aapl.exchange == "Nasdaq"
    # Tickers only the old file lists are kept, with the vintage that last listed them.
    vintages = dict(conn.execute("SELECT ticker, vintage FROM symbols").fetchall())
    gone = [r for r in parse_ticker_file(old).rows if vintages[r.ticker] == "2024-05-14"]
    assert gone and older.total == 10_218 + len(gone)


def test_search_by_ticker_prefix_and_name(conn: Connection) -> None:
    load(conn, BUNDLED.read_bytes(), "2025-12-14")
    assert [s.ticker for s in sq.search_symbols(conn, "aapl")][:1] == ["AAPL"]
    by_name = sq.search_symbols(conn, "apple", limit=5)
    assert by_name[0].ticker == "AAPL" and all("apple" in s.name.lower() for s in by_name)
    assert sq.search_symbols(conn, "zzzzqqq") == []
    assert sq.search_symbols(conn, "%") == []  # LIKE wildcards are literal


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "expected a JSON object"),
        (json.dumps({"0": {"cik_str": 1, "ticker": "A"}}).encode(), "missing title"),
        (json.dumps({"fields": ["cik", "name"], "data": []}).encode(), "must name cik"),
        (
            json.dumps(
                {
                    "fields": ["cik", "name", "ticker", "exchange"],
                    "data": [[1, "A", "A", "X"], [2, "B"]],
                }
            ).encode(),
            "data[1]: expected a list of 4 values",
        ),
        (json.dumps({"0": {"cik_str": "x", "ticker": "A", "title": "T"}}).encode(), "cik"),
    ],
)
def test_malformed_files_name_the_problem_and_load_nothing(
    conn: Connection, content: bytes, message: str
) -> None:
    with pytest.raises(InvalidSymbolFile) as caught:
        load(conn, content, "2025-01-01")
    assert message in caught.value.message
    assert sq.count_symbols(conn) == 0


def test_a_failure_inside_the_write_rolls_back_the_whole_file(conn: Connection) -> None:
    parsed = parse_ticker_file(BUNDLED.read_bytes())
    with pytest.raises(RuntimeError), transaction(conn):
        store_symbols(conn, parsed, "x", date(2025, 12, 14))
        raise RuntimeError("disk full")
    assert sq.count_symbols(conn) == 0


def test_vintage_comes_from_the_folder_or_file_name() -> None:
    assert vintage_from_path(TICKERS_2024) == date(2024, 5, 14)
    assert vintage_from_path(Path("x/company_tickers_2023-01-02.json")) == date(2023, 1, 2)
    assert vintage_from_path(Path("x/company_tickers.json")) is None
