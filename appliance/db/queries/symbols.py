"""The symbol map (tickers, CIKs, company names) and the ticker files it was loaded from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from appliance.db.connection import Connection, Variants
from appliance.db.queries import scalar

__all__ = [
    "Symbol",
    "SymbolFile",
    "company_name",
    "company_name_at",
    "count_symbols",
    "insert_symbol_file",
    "latest_symbol_file",
    "replace_company_names",
    "search_symbols",
    "symbol",
    "tickers_for_cik",
    "upsert_companies",
    "upsert_symbols",
]


@dataclass(frozen=True)
class Symbol:
    ticker: str
    cik: int
    name: str
    exchange: str | None
    vintage: str

    def public(self) -> dict[str, Any]:
        return {
            "ticker": self.ticker,
            "cik": self.cik,
            "name": self.name,
            "exchange": self.exchange,
            "vintage": self.vintage,
        }


@dataclass(frozen=True)
class SymbolFile:
    id: int
    source: str
    kind: str
    vintage: str
    sha256: str
    row_count: int
    loaded_at: str


_SYMBOL_COLS = "ticker, cik, name, exchange, vintage"


def _symbol(row: Any) -> Symbol:
    return Symbol(
        ticker=row["ticker"],
        cik=row["cik"],
        name=row["name"],
        exchange=row["exchange"],
        vintage=row["vintage"],
    )


def insert_symbol_file(
    conn: Connection, source: str, kind: str, vintage: str, sha256: str, row_count: int
) -> int:
    return int(
        scalar(
            conn,
            "INSERT INTO symbol_files (source, kind, vintage, sha256, row_count)"
            " VALUES (?, ?, ?, ?, ?) RETURNING id",
            (source, kind, vintage, sha256, row_count),
        )
    )


def latest_symbol_file(conn: Connection) -> SymbolFile | None:
    row = conn.execute(
        "SELECT id, source, kind, vintage, sha256, row_count, loaded_at FROM symbol_files"
        " ORDER BY vintage DESC, id DESC LIMIT 1"
    ).fetchone()
    return None if row is None else SymbolFile(*row)


def upsert_symbols(
    conn: Connection, rows: Iterable[tuple[str, int, str, str | None, int]], vintage: str
) -> int:
    """Insert or refresh (ticker, cik, name, exchange, rank) rows; returns rows changed.

    A row from an older vintage never overwrites one from a newer vintage, so loading files
    out of order converges to the newest state. An exchange missing from a plain
    company_tickers.json keeps the one a previous exchange file gave.
    """
    cur = conn.executemany(
        "INSERT INTO symbols (ticker, cik, name, exchange, vintage, rank)"
        " VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (ticker) DO UPDATE SET"
        "  cik = excluded.cik, name = excluded.name,"
        "  exchange = COALESCE(excluded.exchange, symbols.exchange),"
        "  vintage = excluded.vintage, rank = excluded.rank,"
        "  updated_at = strftime('%Y-%m-%dT%H:%M:%fZ')"
        " WHERE excluded.vintage >= symbols.vintage AND ("
        "  symbols.cik IS DISTINCT FROM excluded.cik"
        "  OR symbols.name IS DISTINCT FROM excluded.name"
        "  OR symbols.exchange IS DISTINCT FROM COALESCE(excluded.exchange, symbols.exchange)"
        "  OR symbols.vintage IS DISTINCT FROM excluded.vintage"
        "  OR symbols.rank IS DISTINCT FROM excluded.rank)",
        ((t, c, n, e, vintage, r) for t, c, n, e, r in rows),
    )
    return max(cur.rowcount, 0)


def upsert_companies(conn: Connection, companies: Iterable[tuple[int, str]]) -> None:
    conn.executemany(
        "INSERT INTO companies (cik, name) VALUES (?, ?)"
        " ON CONFLICT (cik) DO UPDATE SET name = excluded.name,"
        "  updated_at = strftime('%Y-%m-%dT%H:%M:%fZ')"
        " WHERE companies.name IS DISTINCT FROM excluded.name",
        companies,
    )


def replace_company_names(
    conn: Connection, cik: int, names: Iterable[tuple[str, str | None, str | None]]
) -> None:
    """Store a company's former names with their validity (from, to) dates."""
    conn.execute("DELETE FROM company_names WHERE cik = ?", (cik,))
    conn.executemany(
        "INSERT INTO company_names (cik, name, valid_from, valid_to) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (cik, name) DO NOTHING",
        ((cik, n, f, t) for n, f, t in names),
    )


def company_name(conn: Connection, cik: int) -> str | None:
    row = conn.execute("SELECT name FROM companies WHERE cik = ?", (cik,)).fetchone()
    return None if row is None else str(row[0])


def company_name_at(conn: Connection, cik: int, day: str) -> str | None:
    """The name the company filed under on ``day`` (ISO date), when a former name covers it."""
    row = conn.execute(
        "SELECT name FROM company_names WHERE cik = ?"
        " AND (valid_from IS NULL OR valid_from <= ?) AND (valid_to IS NULL OR valid_to >= ?)"
        " ORDER BY valid_from DESC LIMIT 1",
        (cik, day, day),
    ).fetchone()
    return None if row is None else str(row[0])


def symbol(conn: Connection, ticker: str) -> Symbol | None:
    row = conn.execute(
        f"SELECT {_SYMBOL_COLS} FROM symbols WHERE ticker = ?", (ticker.upper(),)
    ).fetchone()
    return None if row is None else _symbol(row)


def tickers_for_cik(conn: Connection, cik: int) -> list[Symbol]:
    """The CIK's tickers, primary listing first (the SEC's own order)."""
    rows = conn.execute(
        f"SELECT {_SYMBOL_COLS} FROM symbols WHERE cik = ? ORDER BY vintage DESC, rank",
        (cik,),
    ).fetchall()
    return [_symbol(r) for r in rows]


def count_symbols(conn: Connection) -> int:
    return int(scalar(conn, "SELECT count(*) FROM symbols"))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# SQLite's LIKE ignores ASCII case; PostgreSQL's ILIKE is the same match.
_SEARCH_SQL = (
    f"SELECT {_SYMBOL_COLS},"
    "  CASE WHEN ticker = upper(?) THEN 0"
    "       WHEN ticker {like} ? ESCAPE '\\' THEN 1"
    "       WHEN name {like} ? ESCAPE '\\' THEN 2 ELSE 3 END AS match_rank"
    " FROM symbols"
    " WHERE ticker {like} ? ESCAPE '\\' OR name {like} ? ESCAPE '\\'"
    " OR name {like} ? ESCAPE '\\'"
    " ORDER BY match_rank, rank, ticker LIMIT ?"
)
_SEARCH = Variants(
    sqlite=_SEARCH_SQL.replace("{like}", "LIKE"), postgresql=_SEARCH_SQL.replace("{like}", "ILIKE")
)


def search_symbols(conn: Connection, query: str, *, limit: int = 20) -> list[Symbol]:
    """Tickers starting with ``query``, then names starting with it or with a word of it.

    Ranked: exact ticker, ticker prefix, name prefix, name-word prefix; then the SEC's order
    (larger issuers first).
    """
    q = query.strip()
    if not q:
        return []
    prefix = _like_escape(q) + "%"
    word = "% " + _like_escape(q) + "%"
    rows = conn.execute(
        _SEARCH(conn),
        (q, prefix, prefix, prefix, prefix, word, limit),
    ).fetchall()
    return [_symbol(r) for r in rows]
