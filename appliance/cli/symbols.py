"""``appliance symbols load|show|search``: the ticker -> CIK map."""

from __future__ import annotations

import argparse
import contextlib
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from appliance.cli.common import emit_json, read, settings_from, write
from appliance.db.queries import symbols as sq
from appliance.edgar.client import EdgarClient
from appliance.edgar.errors import InvalidSymbolFile
from appliance.edgar.symbols import TickerFile, parse_ticker_file, store_symbols, vintage_from_path
from appliance.errors import InvalidPayload, NotFound
from appliance.settings import Settings


def register(sub: Any) -> None:
    symbols = sub.add_parser("symbols", help="the ticker -> CIK symbol map")
    symbols_sub = symbols.add_subparsers(dest="symbols_command", required=True)
    load = symbols_sub.add_parser(
        "load", help="load SEC company_tickers(.json|_exchange.json) from a file or URL"
    )
    load.add_argument("source", metavar="PATH_OR_URL", help="file (.json or .json.gz) or URL")
    load.add_argument(
        "--vintage",
        help="snapshot date YYYY-MM-DD (default: from the file's folder/name, "
        "HTTP Last-Modified, or the file's modification date)",
    )
    load.add_argument("--json", action="store_true", help="print one JSON object")
    load.set_defaults(func=symbols_load)
    show = symbols_sub.add_parser("show", help="one ticker and the other tickers of its CIK")
    show.add_argument("ticker")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=symbols_show)
    search = symbols_sub.add_parser("search", help="tickers and names starting with a prefix")
    search.add_argument("query")
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--json", action="store_true", help="print JSON lines")
    search.set_defaults(func=symbols_search)


def _vintage(args: argparse.Namespace, fallback: date) -> date:
    if args.vintage:
        try:
            return date.fromisoformat(args.vintage)
        except ValueError:
            raise InvalidPayload(f"--vintage must be YYYY-MM-DD, got {args.vintage!r}") from None
    return fallback


def _fetch(settings: Settings, url: str) -> tuple[bytes, date]:
    response = EdgarClient.from_settings(settings).get(url)
    vintage = date.today()
    if response.last_modified:
        with contextlib.suppress(TypeError, ValueError):
            vintage = parsedate_to_datetime(response.last_modified).date()
    return response.body, vintage


def symbols_load(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    source: str = args.source
    if source.startswith(("http://", "https://")):
        data, found = _fetch(settings, source)
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidSymbolFile(f"cannot read {path}: {exc.strerror or exc}") from None
        found = vintage_from_path(path) or datetime.fromtimestamp(path.stat().st_mtime).date()
        source = str(path.resolve())
    try:
        parsed: TickerFile = parse_ticker_file(data)
    except InvalidSymbolFile as exc:
        raise InvalidSymbolFile(f"{source}: {exc.message}") from None
    result = write(settings, store_symbols, parsed, source, _vintage(args, found))
    if args.json:
        emit_json(result.public())
    else:
        print(
            f"loaded {result.rows} tickers ({result.ciks} companies) from {result.kind} "
            f"vintage {result.vintage}: {result.changed} changed, {result.total} stored"
        )
    return 0


def symbols_show(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    found = read(settings, sq.symbol, args.ticker)
    if found is None:
        raise NotFound(f"unknown ticker {args.ticker.upper()}")
    siblings = read(settings, sq.tickers_for_cik, found.cik)
    if args.json:
        emit_json({**found.public(), "tickers": [s.ticker for s in siblings]})
    else:
        print(f"{found.ticker}\tCIK {found.cik}\t{found.name}\t{found.exchange or '-'}")
        others = [s.ticker for s in siblings if s.ticker != found.ticker]
        if others:
            print(f"same CIK: {', '.join(others)}")
    return 0


def symbols_search(args: argparse.Namespace) -> int:
    rows = read(settings_from(args), sq.search_symbols, args.query, limit=max(1, args.limit))
    for s in rows:
        if args.json:
            emit_json(s.public())
        else:
            print(f"{s.ticker}\t{s.cik}\t{s.name}\t{s.exchange or '-'}")
    return 0
