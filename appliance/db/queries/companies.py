"""What company resolution reads: every name and ticker a company is known by."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.db.connection import Connection

__all__ = ["DirectoryRows", "directory_rows", "directory_signature"]


@dataclass(frozen=True)
class DirectoryRows:
    # (ticker, cik, name, rank): the symbol map; rank is the SEC file's order (larger first)
    symbols: list[tuple[str, int, str, int]]
    # (cik, name, how): current names ("name"), former names ("former"), names on imported
    # filings ("filing")
    names: list[tuple[int, str, str]]
    # (cik, ticker): tickers seen on imported filings (delisted ones are not in the map)
    filing_tickers: list[tuple[int, str]]


def directory_rows(conn: Connection) -> DirectoryRows:
    symbols = [
        (str(t), int(c), str(n), int(r))
        for t, c, n, r in conn.execute("SELECT ticker, cik, name, rank FROM symbols")
    ]
    names = [
        (int(c), str(n), str(how))
        for c, n, how in conn.execute(
            "SELECT cik, name, 'name' FROM companies"
            " UNION SELECT cik, name, 'former' FROM company_names"
            " UNION SELECT DISTINCT cik, company, 'filing' FROM filings"
            " WHERE cik IS NOT NULL AND company IS NOT NULL"
        )
    ]
    tickers = [
        (int(c), str(t))
        for c, t in conn.execute(
            "SELECT DISTINCT cik, upper(ticker) FROM filings"
            " WHERE cik IS NOT NULL AND ticker IS NOT NULL"
        )
    ]
    return DirectoryRows(symbols, names, tickers)


def directory_signature(conn: Connection) -> tuple[int, ...]:
    """Changes whenever :func:`directory_rows` may: a ticker file loaded, a filing or a
    submissions file imported."""
    row = conn.execute(
        "SELECT (SELECT coalesce(max(id), 0) FROM symbol_files),"
        " (SELECT count(*) FROM symbols), (SELECT count(*) FROM company_names),"
        " (SELECT count(*) FROM companies), (SELECT count(*) FROM filings)"
    ).fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    return tuple(int(x) for x in row)
