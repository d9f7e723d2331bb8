"""The SEC ticker files: ``company_tickers.json`` and ``company_tickers_exchange.json``.

``company_tickers.json`` is ``{"0": {"cik_str": 320193, "ticker": "AAPL", "title": "Apple
Inc."}, ...}``; the exchange file is ``{"fields": ["cik", "name", "ticker", "exchange"],
"data": [[320193, "Apple Inc.", "AAPL", "Nasdaq"], ...]}``. One CIK can own several tickers
(share classes, preferreds, units). Parsing is all-or-nothing: the first malformed row raises
:class:`InvalidSymbolFile` naming the row and the field, so a loader never stores half a file.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from appliance.db.connection import Connection
from appliance.db.queries import symbols as sq
from appliance.edgar.errors import InvalidSymbolFile
from appliance.edgar.inflate import DEFAULT_MAX_BYTES, TooLarge, bounded
from appliance.edgar.vocabulary import normalize_ticker

__all__ = [
    "SymbolLoad",
    "SymbolRow",
    "TickerFile",
    "parse_ticker_file",
    "store_symbols",
    "vintage_from_path",
]

_DATED = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")


@dataclass(frozen=True, slots=True)
class SymbolRow:
    ticker: str
    cik: int
    name: str
    exchange: str | None


@dataclass(frozen=True, slots=True)
class TickerFile:
    kind: str  # "company_tickers" or "company_tickers_exchange"
    rows: list[SymbolRow]
    sha256: str


@dataclass(frozen=True, slots=True)
class SymbolLoad:
    source: str
    kind: str
    vintage: str
    rows: int
    ciks: int
    changed: int  # symbol rows inserted or updated (0 when the same file is loaded again)
    total: int  # symbols stored after the load

    def public(self) -> dict[str, object]:
        return {
            "source": self.source,
            "kind": self.kind,
            "vintage": self.vintage,
            "rows": self.rows,
            "ciks": self.ciks,
            "changed": self.changed,
            "total": self.total,
        }


def _cik(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise InvalidSymbolFile(f"{where}: cik is not a number: {value!r}")
    if isinstance(value, int):
        cik = value
    elif isinstance(value, str) and value.strip().isdigit():
        cik = int(value)
    else:
        raise InvalidSymbolFile(f"{where}: cik is not a number: {value!r}")
    if not 0 < cik < 10**10:
        raise InvalidSymbolFile(f"{where}: cik out of range: {cik}")
    return cik


def _ticker(value: Any, where: str) -> str:
    ticker = normalize_ticker(value) if isinstance(value, str) else None
    if ticker is None:
        raise InvalidSymbolFile(f"{where}: ticker is missing or malformed: {value!r}")
    return ticker


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidSymbolFile(f"{where}: company name is missing: {value!r}")
    return value.strip()


def _exchange_rows(doc: dict[str, Any]) -> list[SymbolRow]:
    fields = doc.get("fields")
    data = doc.get("data")
    if not isinstance(fields, list) or not isinstance(data, list):
        raise InvalidSymbolFile('exchange file needs a "fields" list and a "data" list')
    try:
        i_cik, i_name, i_ticker = fields.index("cik"), fields.index("name"), fields.index("ticker")
    except ValueError:
        raise InvalidSymbolFile(
            f'"fields" must name cik, name and ticker; got {fields!r}'
        ) from None
    i_exchange = fields.index("exchange") if "exchange" in fields else None
    rows: list[SymbolRow] = []
    for n, row in enumerate(data):
        where = f"data[{n}]"
        if not isinstance(row, list) or len(row) != len(fields):
            raise InvalidSymbolFile(f"{where}: expected a list of {len(fields)} values: {row!r}")
        exchange = row[i_exchange] if i_exchange is not None else None
        if exchange is not None and not isinstance(exchange, str):
            raise InvalidSymbolFile(f"{where}: exchange is not a string: {exchange!r}")
        rows.append(
            SymbolRow(
                ticker=_ticker(row[i_ticker], where),
                cik=_cik(row[i_cik], where),
                name=_name(row[i_name], where),
                exchange=exchange or None,
            )
        )
    return rows


def _plain_rows(doc: dict[str, Any]) -> list[SymbolRow]:
    rows: list[SymbolRow] = []
    for key, entry in doc.items():
        where = f"entry {key!r}"
        if not isinstance(entry, dict):
            raise InvalidSymbolFile(f"{where}: expected an object with cik_str, ticker, title")
        missing = [f for f in ("cik_str", "ticker", "title") if f not in entry]
        if missing:
            raise InvalidSymbolFile(f"{where}: missing {', '.join(missing)}")
        rows.append(
            SymbolRow(
                ticker=_ticker(entry["ticker"], where),
                cik=_cik(entry["cik_str"], where),
                name=_name(entry["title"], where),
                exchange=None,
            )
        )
    return rows


def parse_ticker_file(data: bytes) -> TickerFile:
    """Parse either SEC ticker file (gzip accepted). Raises InvalidSymbolFile.

    A ticker listed twice keeps its first row (the SEC orders rows by size, so the first
    is the primary listing).
    """
    if data[:2] == b"\x1f\x8b":
        try:
            data = bounded(data, DEFAULT_MAX_BYTES)
        except TooLarge as exc:
            raise InvalidSymbolFile(str(exc)) from None
        except (OSError, EOFError, zlib.error) as exc:
            raise InvalidSymbolFile(f"corrupt gzip data: {exc}") from None
    try:
        doc = json.loads(data)
    except UnicodeDecodeError as exc:
        raise InvalidSymbolFile(f"not UTF-8 text: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidSymbolFile(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(doc, dict) or not doc:
        raise InvalidSymbolFile("expected a JSON object of tickers, got an empty or other value")
    exchange_format = "fields" in doc or "data" in doc
    rows = _exchange_rows(doc) if exchange_format else _plain_rows(doc)
    if not rows:
        raise InvalidSymbolFile("the file lists no tickers")
    seen: set[str] = set()
    unique: list[SymbolRow] = []
    for row in rows:
        if row.ticker not in seen:
            seen.add(row.ticker)
            unique.append(row)
    return TickerFile(
        kind="company_tickers_exchange" if exchange_format else "company_tickers",
        rows=unique,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def store_symbols(
    conn: Connection, ticker_file: TickerFile, source: str, vintage: date
) -> SymbolLoad:
    """Write function: upsert a parsed ticker file in the caller's transaction.

    Loading the same file again changes nothing (idempotent). Company names follow the
    newest vintage only, so loading an old file after a new one leaves the names current.
    """
    day = vintage.isoformat()
    newest = sq.latest_symbol_file(conn)
    changed = sq.upsert_symbols(
        conn,
        ((r.ticker, r.cik, r.name, r.exchange, n) for n, r in enumerate(ticker_file.rows)),
        day,
    )
    firsts: dict[int, str] = {}
    for r in ticker_file.rows:
        firsts.setdefault(r.cik, r.name)
    if newest is None or day >= newest.vintage:
        sq.upsert_companies(conn, firsts.items())
    sq.insert_symbol_file(
        conn, source, ticker_file.kind, day, ticker_file.sha256, len(ticker_file.rows)
    )
    return SymbolLoad(
        source=source,
        kind=ticker_file.kind,
        vintage=day,
        rows=len(ticker_file.rows),
        ciks=len(firsts),
        changed=changed,
        total=sq.count_symbols(conn),
    )


def vintage_from_path(path: Path) -> date | None:
    """The snapshot date in a ticker file's name or folder (``2025-12-14_iqterminal/``)."""
    for part in (path.name, path.parent.name):
        if m := _DATED.search(part):
            try:
                return date.fromisoformat(m.group(1))
            except ValueError:
                continue
    return None
