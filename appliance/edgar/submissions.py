"""EDGAR submissions JSON (``data.sec.gov/submissions/CIK##########.json`` and its pages).

The main file carries the company (``cik``, ``name``, ``tickers``, ``exchanges``,
``formerNames``) and ``filings.recent``: parallel columnar arrays, newest first. Older filings
are in ``filings.files[]``, one ``CIK##########-submissions-NNN.json`` each, whose top level
is the same columnar arrays without the company fields.

Acceptance times are EDGAR's Eastern time even though the JSON writes them with a ``Z``; they
are kept as naive datetimes in that same clock, matching the SGML header's
``<ACCEPTANCE-DATETIME>``. Old filings carry ``T00:00:00`` there, meaning "unknown".
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from appliance.edgar.errors import InvalidFiling
from appliance.edgar.inflate import DEFAULT_MAX_BYTES, TooLarge, bounded
from appliance.edgar.layout import format_accession

__all__ = ["CompanySubmissions", "SubmissionRecord", "parse_submissions"]


@dataclass(frozen=True, slots=True)
class SubmissionRecord:
    accession: str
    cik: int | None
    form: str
    filing_date: date | None
    period_of_report: date | None
    acceptance_datetime: datetime | None
    primary_document: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class CompanySubmissions:
    cik: int | None
    name: str | None
    tickers: list[str] = field(default_factory=list)
    exchanges: list[str | None] = field(default_factory=list)
    former_names: list[tuple[str, date | None, date | None]] = field(default_factory=list)
    filings: list[SubmissionRecord] = field(default_factory=list)
    # Names of the further pages listed in filings.files (main file only).
    pages: list[str] = field(default_factory=list)


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _acceptance(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "").split(".")[0])
    except ValueError:
        return None
    if stamp.hour == stamp.minute == stamp.second == 0:
        return None  # EDGAR's placeholder for "time not recorded"
    return stamp


def _columns(block: dict[str, Any], cik: int | None, where: str) -> list[SubmissionRecord]:
    accessions = block.get("accessionNumber")
    if not isinstance(accessions, list):
        raise InvalidFiling(f"{where}: no accessionNumber array")
    n = len(accessions)

    def column(name: str) -> list[Any]:
        values = block.get(name)
        if values is None:
            return [None] * n
        if not isinstance(values, list) or len(values) != n:
            raise InvalidFiling(f"{where}: column {name} does not have {n} entries")
        return values

    forms, filed, reported = column("form"), column("filingDate"), column("reportDate")
    accepted, primary, described = (
        column("acceptanceDateTime"),
        column("primaryDocument"),
        column("primaryDocDescription"),
    )
    records: list[SubmissionRecord] = []
    for i, raw in enumerate(accessions):
        accession = format_accession(str(raw))
        if accession is None:
            raise InvalidFiling(f"{where}: accessionNumber[{i}] is malformed: {raw!r}")
        records.append(
            SubmissionRecord(
                accession=accession,
                cik=cik,
                form=str(forms[i] or ""),
                filing_date=_day(filed[i]),
                period_of_report=_day(reported[i]),
                acceptance_datetime=_acceptance(accepted[i]),
                primary_document=str(primary[i]) if primary[i] else None,
                description=str(described[i]) if described[i] else None,
            )
        )
    return records


def parse_submissions(data: bytes, cik_hint: int | None = None) -> CompanySubmissions:
    """Parse a main submissions file or one of its pages. Raises InvalidFiling.

    ``cik_hint`` (from the file name) supplies the CIK of a page, which does not carry one.
    """
    if data[:2] == b"\x1f\x8b":
        try:
            data = bounded(data, DEFAULT_MAX_BYTES)
        except TooLarge as exc:
            raise InvalidFiling(str(exc)) from None
        except (OSError, EOFError, zlib.error) as exc:
            raise InvalidFiling(f"corrupt gzip data: {exc}") from None
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidFiling(f"submissions file is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidFiling("submissions file is not a JSON object")
    raw_cik = doc.get("cik")
    cik = int(raw_cik) if isinstance(raw_cik, (str, int)) and str(raw_cik).isdigit() else cik_hint
    if "filings" not in doc:
        # A pagination page: the columns sit at the top level.
        return CompanySubmissions(cik=cik, name=None, filings=_columns(doc, cik, "page"))
    filings = doc["filings"]
    if not isinstance(filings, dict) or not isinstance(filings.get("recent"), dict):
        raise InvalidFiling("submissions file has no filings.recent")
    former: list[tuple[str, date | None, date | None]] = [
        (str(f.get("name")), _day(f.get("from")), _day(f.get("to")))
        for f in doc.get("formerNames") or []
        if isinstance(f, dict) and f.get("name")
    ]
    pages = [
        str(f["name"])
        for f in filings.get("files") or []
        if isinstance(f, dict) and isinstance(f.get("name"), str)
    ]
    tickers = [str(t) for t in doc.get("tickers") or [] if t]
    exchanges = [str(e) if e else None for e in doc.get("exchanges") or []]
    return CompanySubmissions(
        cik=cik,
        name=str(doc["name"]) if doc.get("name") else None,
        tickers=tickers,
        exchanges=exchanges,
        former_names=former,
        filings=_columns(filings["recent"], cik, "filings.recent"),
        pages=pages,
    )
