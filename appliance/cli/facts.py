"""``appliance facts TICKER`` and ``appliance financials TICKER``: the stored XBRL numbers."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from appliance.cli.common import emit_json, read, settings_from
from appliance.errors import InvalidPayload
from appliance.financials.service import FactsQuery, FinancialsQuery, financials, find_facts

M = TypeVar("M", bound=BaseModel)

_FP = ("FY", "Q1", "Q2", "Q3", "Q4", "6M", "9M")


def register(sub: Any) -> None:
    facts = sub.add_parser("facts", help="a company's inline-XBRL facts (concept, period, value)")
    facts.add_argument("ticker")
    facts.add_argument("--concept", help="us-gaap:Revenues, or Revenues in any namespace")
    facts.add_argument("--q", help="words of the printed label, e.g. 'net sales'")
    facts.add_argument("--fy", type=int, help="fiscal year the period falls in")
    facts.add_argument("--fp", choices=_FP, help="fiscal period")
    facts.add_argument("--form", help="10-K, 10-Q, ...")
    facts.add_argument("--cutoff", help="only filings dated on or before YYYY-MM-DD")
    facts.add_argument("--dimensional", action="store_true", help="include segment facts")
    facts.add_argument("--history", action="store_true", help="every filing's report")
    facts.add_argument("--limit", type=int, default=100, help="at most 1000")
    facts.add_argument("--json", action="store_true", help="print one JSON object")
    facts.set_defaults(func=facts_command)

    fin = sub.add_parser("financials", help="standard statement lines over time, as reported")
    fin.add_argument("ticker")
    fin.add_argument("--statement", choices=("income", "balance", "cashflow"), default="income")
    fin.add_argument("--period", choices=("annual", "quarterly"), default="annual")
    fin.add_argument("--cutoff", help="only filings dated on or before YYYY-MM-DD")
    fin.add_argument("--limit", type=int, default=6, help="newest periods shown (default 6)")
    fin.add_argument("--json", action="store_true", help="print one JSON object")
    fin.set_defaults(func=financials_command)


def _query(model: type[M], args: argparse.Namespace, fields: tuple[str, ...]) -> M:
    """The same validation as the API's: a bad flag is the API's 400 message, exit 2."""
    values = {f: getattr(args, f) for f in fields if getattr(args, f) not in (None, False)}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"--{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise InvalidPayload(problems) from None


def _amount(value: str, unit: str | None) -> str:
    """Money in millions as statements print it; per-share and counts as they are."""
    number = Decimal(value)
    if unit == "USD" and abs(number) >= 1_000_000:
        return f"{number / 1_000_000:,.0f}M"
    if number == number.to_integral_value():
        return f"{number:,.0f}"
    return f"{number:,}"


def facts_command(args: argparse.Namespace) -> int:
    fields = ("ticker", "concept", "q", "fy", "fp", "form", "cutoff", "dimensional", "history")
    query = _query(FactsQuery, args, (*fields, "limit"))
    body = read(settings_from(args), find_facts, query)
    if args.json:
        emit_json(body)
        return 0
    for f in body["facts"]:
        period = f["period"]
        when = f"{period['start']}..{period['end']}" if "start" in period else period["instant"]
        fiscal = f"{f['fy'] or '-'} {f['fp'] or '-'}"
        value = _amount(f["value"], f["unit"]) if f["unit"] else f["value"][:60]
        dims = " ".join(f"{a}={m}" for a, m in f["dimensions"].items())
        print(
            f"{when:22s} {fiscal:8s} {f['concept']:50s} {value:>16s} {f['unit'] or '':10s}"
            f" {f['form']} {f['accession']} {f['section'] or '-'} {dims}".rstrip()
        )
    if not body["facts"]:
        print(f"no facts for {body['ticker']} match")
    return 0


def financials_command(args: argparse.Namespace) -> int:
    fields = ("ticker", "statement", "period", "cutoff", "limit")
    body = read(settings_from(args), financials, _query(FinancialsQuery, args, fields))
    if args.json:
        emit_json(body)
        return 0
    periods = body["periods"]
    if not periods:
        print(f"no {args.statement} statement facts for {body['ticker']}")
        return 0
    print(
        f"{body['company'] or body['ticker']} ({body['ticker']}), {args.statement}, {args.period}"
    )
    header = "".join(f"{'FY' if p['fp'] == 'FY' else p['fp']} {p['fy']}".rjust(16) for p in periods)
    print(f"{'':34s}{header}")
    derived = False
    for row in body["lines"]:
        cells = []
        for cell in row["values"]:
            if cell is None:
                cells.append(f"{'-':>16s}")
                continue
            mark = "*" if cell["derived"] else " "
            derived = derived or cell["derived"]
            cells.append(f"{_amount(cell['value'], cell['unit']):>15s}{mark}")
        print(f"{row['label'][:33]:34s}{''.join(cells)}".rstrip())
    if derived:
        print("* derived: year to date minus the quarters before it (not reported as such)")
    return 0
