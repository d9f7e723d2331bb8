"""Standard statement lines over time, point in time, with quarters derived where unreported.

Values are as reported: for every period the newest filing dated on or before the cutoff that
reports it wins, so a later restatement (NVIDIA's 2025 10-K recasting fiscal 2023 EPS after
its stock split) appears only once the cutoff reaches its filing date. Companies rarely tag a
fourth quarter (the 10-K reports the year) and report cash flows only year to date; a missing
quarter is derived as year-to-date minus the year-to-date before it (Q4 = FY - nine months,
or FY - Q1 - Q2 - Q3), and marked derived with its operands. Balances and per-share figures
are never derived (share counts differ by quarter).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from appliance.db.connection import Connection
from appliance.db.queries import facts as xq
from appliance.edgar.xbrl import exact
from appliance.financials.lines import LINES, Line

__all__ = ["Cell", "Period", "cells_from_facts", "line_cells", "pick", "statement"]

_QUARTERS = ("Q1", "Q2", "Q3", "Q4")
_YTD = {1: "Q1", 2: "6M", 3: "9M", 4: "FY"}  # year to date at the end of quarter n
# Reported periods a quarterly statement shows (instants at a year end are "FY": the Q4 end).
_QUARTERLY = {"Q1", "Q2", "Q3", "Q4"}


@dataclass(frozen=True)
class Period:
    fy: int
    fp: str
    start: str | None  # None for a balance (an instant)
    end: str

    def public(self) -> dict[str, Any]:
        return {"fy": self.fy, "fp": self.fp, "start": self.start, "end": self.end}


@dataclass
class Cell:
    value: Decimal
    unit: str
    concept: str
    period: Period
    fact: xq.StoredFact | None  # None when derived
    derived_from: list[Cell] = field(default_factory=list)

    @property
    def derived(self) -> bool:
        return self.fact is None

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": exact(self.value),
            "unit": self.unit,
            "concept": self.concept,
            "derived": self.derived,
        }
        if self.fact is not None:
            out.update(
                accession=self.fact.accession,
                form=self.fact.form,
                filing_date=self.fact.filing_date,
                section=self.fact.section,
            )
        else:
            out["derived_from"] = [
                {"fy": c.period.fy, "fp": c.period.fp, "value": exact(c.value)}
                | ({"accession": c.fact.accession} if c.fact else {})
                for c in self.derived_from
            ]
        return out


def _reported(facts: Iterable[xq.StoredFact]) -> dict[tuple[str, int, str], Cell]:
    """(concept, fy, fp) -> the reported cell; per key the newest filing (facts are already
    one per period as of the cutoff) and the company's main unit."""
    cells: dict[tuple[str, int, str], Cell] = {}
    for f in facts:
        if f.fy is None or f.fp is None:
            continue
        key = (f.concept, f.fy, f.fp)
        period = Period(f.fy, f.fp, f.period_start or None, f.period_end)
        cell = Cell(Decimal(f.value), f.unit, f.concept, period, f)
        old = cells.get(key)
        if old is None or (old.fact is not None and f.filing_date > old.fact.filing_date):
            cells[key] = cell
    return cells


def _derive(cells: dict[tuple[str, int, str], Cell]) -> None:
    """Fill missing quarters of flows from year-to-date figures (see the module docstring)."""
    years = {(concept, fy) for concept, fy, fp in cells if fp in _YTD.values()}
    for concept, fy in sorted(years):

        def get(fp: str, concept: str = concept, fy: int = fy) -> Cell | None:
            return cells.get((concept, fy, fp))

        for n in (2, 3, 4):
            quarter = f"Q{n}"
            total = get(_YTD[n])
            if get(quarter) is not None or total is None:
                continue
            before = get(_YTD[n - 1])
            operands = [before] if before is not None else [get(f"Q{k}") for k in range(1, n)]
            known = [c for c in operands if c is not None]
            if len(known) != len(operands) or any(c.unit != total.unit for c in known):
                continue
            last = known[-1].period.end
            start = (date.fromisoformat(last) + timedelta(days=1)).isoformat()
            value = total.value - sum((c.value for c in known), Decimal(0))
            period = Period(fy, quarter, start, total.period.end)
            cells[(concept, fy, quarter)] = Cell(
                value, total.unit, concept, period, None, [total, *known]
            )


def cells_from_facts(
    facts: Iterable[xq.StoredFact], derive: bool
) -> dict[tuple[str, int, str], Cell]:
    """(concept, fy, fp) -> cell from facts already narrowed to one point in time (and one
    set of dimensions); with ``derive``, unreported quarters are filled in."""
    cells = _reported(facts)
    if derive:
        _derive(cells)
    return cells


def _cells(
    conn: Connection, cik: int, lines: list[Line], cutoff: str | None, quarterly: bool
) -> dict[str, dict[tuple[int, str], Cell]]:
    names = sorted({name for item in lines for name in item.concepts})
    facts = xq.facts_for(conn, cik, names=names, cutoff=cutoff, numeric_only=True, limit=100_000)
    flows = {
        name for item in lines if not item.instant and not item.per_share for name in item.concepts
    }
    cells = cells_from_facts([f for f in facts if f.name not in flows], derive=False)
    cells.update(cells_from_facts([f for f in facts if f.name in flows], derive=quarterly))
    return {item.key: pick(item, cells) for item in lines}


def pick(item: Line, cells: dict[tuple[str, int, str], Cell]) -> dict[tuple[int, str], Cell]:
    """A line's cells by (fy, fp): per period the most preferred concept the company
    reported, a reported value before a derived one."""
    by_period: dict[tuple[int, str], Cell] = {}
    ordered = sorted(cells.items(), key=lambda kv: kv[1].derived)
    for name in item.concepts:
        for (concept, fy, fp), cell in ordered:
            if concept.rsplit(":", 1)[-1] == name and (fy, fp) not in by_period:
                by_period[(fy, fp)] = cell
    return by_period


def line_cells(
    conn: Connection, cik: int, line: Line, cutoff: str | None, *, quarterly: bool = True
) -> dict[tuple[int, str], Cell]:
    """One line's cells by (fy, fp) as of ``cutoff``: reported, and derived quarters."""
    return _cells(conn, cik, [line], cutoff, quarterly)[line.key]


def statement(
    conn: Connection,
    cik: int,
    kind: str,
    period: str,
    cutoff: str | None,
    limit: int = 12,
) -> dict[str, Any]:
    """``{"periods": [...], "lines": [...]}``: the statement's lines over its newest periods,
    one column per period (newest first), ``null`` where a line has no value."""
    lines = [item for item in LINES if item.statement == kind]
    quarterly = period == "quarterly"
    by_line = _cells(conn, cik, lines, cutoff, quarterly)
    wanted = _QUARTERLY if quarterly else {"FY"}
    columns: dict[tuple[int, str], Period] = {}
    for cells in by_line.values():
        for key, found in cells.items():
            fp = key[1]
            if fp in wanted or (quarterly and fp == "FY" and found.period.start is None):
                # A balance at the year end is also the fourth quarter's.
                column = (key[0], "Q4") if quarterly and fp == "FY" else key
                columns.setdefault(column, found.period)
    order = sorted(columns, key=lambda k: (k[0], _rank(k[1])), reverse=True)[:limit]
    result_lines = []
    for item in lines:
        cells = by_line[item.key]
        values = []
        for fy, fp in order:
            cell: Cell | None = cells.get((fy, fp))
            if cell is None and quarterly and fp == "Q4" and item.instant:
                cell = cells.get((fy, "FY"))
            values.append(cell.public() if cell else None)
        result_lines.append({"line": item.key, "label": item.label, "values": values})
    return {
        "periods": [_column(columns[k], k) for k in order],
        "lines": result_lines,
    }


def _column(period: Period, key: tuple[int, str]) -> dict[str, Any]:
    return {**period.public(), "fy": key[0], "fp": key[1]}


def _rank(fp: str) -> int:
    return _QUARTERS.index(fp) if fp in _QUARTERS else 4
