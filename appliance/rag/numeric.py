"""Numeric questions answered from inline-XBRL facts first.

"What was NVIDIA's total revenue for fiscal 2025 and how fast did it grow?" names a company,
a metric and a period; prose search tends to cite a neighbouring paragraph or a table row
without the number. When a question asks for an amount of a metric this module knows (revenue,
net income, EPS, assets, cash, cash flows, R&D, ...), the company is known and the period
resolves to one fact reported on or before the cutoff, the answer states that exact value with
its unit and period, the change from the same period a year earlier (computed, and said to
be), and cites the filing and Item the fact is tagged in with the text around the tag.

A metric qualified by other words ("data center revenue", "Greater China net sales") is
answered from the facts of the dimension member those words name, or not at all: a company
total must never answer a segment question. Questions about causes ("why", "how did tariffs
affect") stay with the text search, as does anything this module cannot resolve exactly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from appliance.db.connection import Connection
from appliance.db.queries import facts as xq
from appliance.db.queries import rag as rq
from appliance.edgar.facts import humanize
from appliance.edgar.layout import archives_url
from appliance.edgar.vocabulary import SEC_ARCHIVES, item_label
from appliance.edgar.xbrl import exact
from appliance.financials.lines import LINES, Line
from appliance.financials.statements import Cell, cells_from_facts, pick
from appliance.rag.periods import AskedPeriod, asked_period
from appliance.rag.query import normalize_name
from appliance.rag.retrieve import SearchRequest

__all__ = ["FactAnswer", "answer_from_facts", "with_facts"]

# Metrics outside the standard statement lines that analysts ask for by name.
_EXTRA = (
    Line(
        "rnd",
        "Research and development expense",
        "other",
        (
            "ResearchAndDevelopmentExpense",
            "ResearchAndDevelopmentExpenseExcludingAcquiredInProcessCost",
        ),
    ),
    Line("sga", "Selling, general and administrative expense", "other",
         ("SellingGeneralAndAdministrativeExpense",)),
    Line("capex", "Capital expenditures", "other",
         ("PaymentsToAcquirePropertyPlantAndEquipment", "PaymentsToAcquireProductiveAssets")),
    Line("buybacks", "Share repurchases", "other",
         ("StockRepurchasedAndRetiredDuringPeriodValue", "StockRepurchasedDuringPeriodValue",
          "PaymentsForRepurchaseOfCommonStock")),
    Line("dividends", "Dividends paid", "other",
         ("PaymentsOfDividends", "PaymentsOfDividendsCommonStock", "DividendsCommonStock")),
)  # fmt: skip
_LINES = {item.key: item for item in (*LINES, *_EXTRA)}

# (pattern, line) in order of precedence: specific phrases before the words inside them.
_METRICS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.IGNORECASE), key)
    for p, key in (
        (r"\bbasic (?:eps|earnings per share|net income per share)\b", "eps_basic"),
        (r"\b(?:diluted )?(?:eps|earnings per (?:diluted )?share|net income per share)\b", "eps_diluted"),  # noqa: E501
        (r"\bcash\b.{0,40}\boperating activities\b|\boperating activities\b.{0,40}\bcash\b|"
         r"\boperating cash flows?\b|\bcash flows? from operations\b", "operating_cash_flow"),
        (r"\bcash\b.{0,40}\binvesting activities\b|\binvesting activities\b|"
         r"\binvesting cash flows?\b", "investing_cash_flow"),
        (r"\bcash\b.{0,40}\bfinancing activities\b|\bfinancing activities\b|"
         r"\bfinancing cash flows?\b", "financing_cash_flow"),
        (r"\bgross (?:profit|margin)\b", "gross_profit"),
        (r"\boperating (?:income|profit|loss)\b|\bincome from operations\b", "operating_income"),
        (r"\boperating expenses\b|\bopex\b", "operating_expenses"),
        (r"\bcost of (?:sales|revenues?|goods sold)\b", "cost_of_revenue"),
        (r"\bincome before (?:income )?tax(?:es)?\b|\bpre-?tax income\b", "pretax_income"),
        (r"\b(?:income )?tax (?:expense|provision)\b|\bprovision for income taxes\b", "income_tax"),
        (r"\bresearch and development\b|\br&d\b", "rnd"),
        (r"\bselling, general and administrative\b|\bsg&a\b", "sga"),
        (r"\bcapital expenditures?\b|\bcapex\b", "capex"),
        (r"\bbuy ?backs?\b|\bbought back\b|\bbuy back\b|\brepurchas\w*", "buybacks"),
        (r"\bdividends?\b", "dividends"),
        (r"\bnet (?:income|earnings|profit|loss)\b|\bprofits?\b|\bearn(?:ed|ings)\b", "net_income"),
        (r"\b(?:net )?revenues?\b|\bnet sales\b|\bsales\b|\bturnover\b|\btop line\b", "revenue"),
        (r"\btotal assets\b|\bassets\b", "total_assets"),
        (r"\btotal liabilities\b|\bliabilities\b", "total_liabilities"),
        (r"\b(?:shareholders|stockholders)'? equity\b|\btotal equity\b|\bbook value\b", "total_equity"),  # noqa: E501
        (r"\bcash and cash equivalents\b|\bcash\b", "cash"),
    )
]  # fmt: skip
# An amount is asked for ...
_AMOUNT = re.compile(
    r"\b(how (much|many|large|big|fast|did .{0,60}\b(grow|change|compare))|what (was|were|is|are)"
    r"|grow(th)?|grew|change[sd]?|compare[sd]?|increase[sd]?|decrease[sd]?|total|amount|figure"
    r"|report(ed)?|spen[dt]|generate[sd]?|earn(ed)?|hold|held|have|had)\b",
    re.IGNORECASE,
)
# ... unless the question is about causes or descriptions, which the text answers.
_WHY = re.compile(
    r"\b(why|reasons?|drivers?|drove|driven|affect\w*|impact\w*|explain\w*|describe\w*|"
    r"factors?|risks?|guidance|outlook|expect\w*|forecast\w*|margin percentage|percent of)\b",
    re.IGNORECASE,
)
# Words that may stand before a metric without making it a segment's figure.
_PLAIN_WORDS = (
    "a an the its their his her total net consolidated overall reported annual quarterly fiscal"
    " full year years yearly company company's companies group gaap us u.s diluted basic and of"
    " for in on at what was were is are how much did does do many large big fast"
)
_PLAIN = frozenset(_PLAIN_WORDS.split(" "))
# Words that say when, not what part ("third-quarter", "fiscal 2024", "FY24", "Q3", "full-year"):
# the period parser reads them, so before a metric they end its qualifier like a plain word.
_PERIOD_WORDS_TEXT = (
    "first second third fourth 1st 2nd 3rd 4th quarter quarters half month months year years"
    " full fiscal annual quarterly year-end ytd year-to-date twelve nine six three"
)
_PERIOD_WORDS = frozenset(_PERIOD_WORDS_TEXT.split(" "))
_PERIOD_TOKEN = re.compile(r"^(?:fy|cy)?'?\d{2,4}s?$|^q[1-4]$|^h[12]$|^[1-9]m$|^fy$")
_WORD = re.compile(r"[A-Za-z0-9&.'\u2019-]+")
_GROWTH_DAYS = (350, 380)  # a prior period one year earlier


@dataclass
class FactAnswer:
    """The facts-first part of a Q&A response."""

    answer: str
    citations: list[dict[str, Any]]
    facts: list[dict[str, Any]]


def _metric(question: str) -> tuple[Line, re.Match[str]] | None:
    for pattern, key in _METRICS:
        if m := pattern.search(question):
            return _LINES[key], m
    return None


def _numeric(question: str) -> tuple[Line, re.Match[str]] | None:
    """The metric an amount question asks for; None for any other question."""
    if _WHY.search(question) or not _AMOUNT.search(question):
        return None
    return _metric(question)


def _qualifier(question: str, match: re.Match[str], company_words: set[str]) -> list[str]:
    """The words right before the metric that name part of the company ("data center")."""
    words = _WORD.findall(question[: match.start()])
    found: list[str] = []
    for word in reversed(words[-4:]):
        w = word.lower().replace("\u2019", "'")
        bare = w.removesuffix("'s").removesuffix("'")
        if w.endswith(("'s", "'")) or bare in company_words or bare in _PLAIN:
            break
        if bare in _PERIOD_WORDS or all(
            p in _PERIOD_WORDS or _PERIOD_TOKEN.match(p) for p in bare.split("-") if p
        ):
            break
        found.append(bare)
    return list(reversed(found))


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _member_words(dimensions: str) -> set[str]:
    members = json.loads(dimensions).values() if dimensions else []
    words: set[str] = set()
    for member in members:
        words |= {_stem(w.lower()) for w in humanize(member.rsplit(":", 1)[-1]).split()}
    return words


def _choose(cells: dict[tuple[int, str], Cell], asked: AskedPeriod, item: Line) -> Cell | None:
    """The one cell the question asks for, or None when it is not exactly clear."""
    values = list(cells.values())
    if asked.end is not None:
        near = [c for c in values if abs((date.fromisoformat(c.period.end) - asked.end).days) <= 7]
        if asked.fp == "Q":
            near = [c for c in near if c.period.fp.startswith("Q")]
        elif asked.fp is not None:
            near = [c for c in near if c.period.fp == asked.fp]
        elif not item.instant:
            # "... as of March 29, 2025" for a flow: the shortest period ending then.
            order = {"Q1": 0, "Q2": 0, "Q3": 0, "Q4": 0, "6M": 1, "9M": 2, "FY": 3}
            near.sort(key=lambda c: order.get(c.period.fp, 9))
            near = near[:1]
        return near[0] if near else None
    if asked.quarter_month is not None:
        year, month = asked.quarter_month
        for c in values:
            end = date.fromisoformat(c.period.end)
            shifted = date.fromordinal(end.toordinal() - 7)
            if c.period.fp.startswith("Q") and (year, month) in (
                (end.year, end.month),
                (shifted.year, shifted.month),
            ):
                return c
        return None
    if asked.fy is not None:
        fp = asked.fp if asked.fp not in (None, "Q") else "FY"
        return cells.get((asked.fy, fp))
    if asked.year is not None:
        return cells.get((asked.year, asked.fp or "FY"))
    if asked.fp not in (None, "Q"):
        return None  # "the second quarter" of which year?
    # No period named ("latest", or none): the newest year, or quarter when asked, or for a
    # balance the newest date.
    if asked.quarterly and not asked.annual:
        kinds = {"Q1", "Q2", "Q3", "Q4"}
    elif asked.annual or not item.instant:
        kinds = {"FY"}
    else:
        kinds = {"FY", "Q1", "Q2", "Q3"}
    newest = sorted(
        (c for c in values if c.period.fp in kinds), key=lambda c: c.period.end, reverse=True
    )
    return newest[0] if newest else None


def _prior(cells: dict[tuple[int, str], Cell], cell: Cell) -> Cell | None:
    prior = cells.get((cell.period.fy - 1, cell.period.fp))
    if prior is None or prior.unit != cell.unit:
        return None
    gap = (date.fromisoformat(cell.period.end) - date.fromisoformat(prior.period.end)).days
    return prior if _GROWTH_DAYS[0] <= gap <= _GROWTH_DAYS[1] else None


def _day(text: str) -> str:
    d = date.fromisoformat(text)
    return f"{d:%B} {d.day}, {d.year}"


def _period_words(cell: Cell, instant: bool) -> str:
    p = cell.period
    span = f" ({_day(p.start)} to {_day(p.end)})" if p.start else ""
    if instant:
        what = f"fiscal {p.fy}" if p.fp == "FY" else f"the {_ordinal(p.fp)} of fiscal {p.fy}"
        return f"{_day(p.end)}, the end of {what}"
    if p.fp == "FY":
        return f"fiscal {p.fy}{span}"
    if p.fp in ("6M", "9M"):
        months = "six" if p.fp == "6M" else "nine"
        return f"the first {months} months of fiscal {p.fy}{span}"
    return f"the {_ordinal(p.fp)} of fiscal {p.fy}{span}"


def _ordinal(fp: str) -> str:
    return {"Q1": "first quarter", "Q2": "second quarter", "Q3": "third quarter"}.get(
        fp, "fourth quarter"
    )


def _amount(value: Decimal, unit: str) -> str:
    sign = "-" if value < 0 else ""
    v = abs(value)
    if unit == "USD":
        if v >= 1_000_000 and v % 1_000_000 == 0:
            return f"{sign}${v / 1_000_000:,.0f} million ({sign}${v:,.0f})"
        return f"{sign}${v:,}"
    if unit == "USD/shares":
        cents = v.quantize(Decimal("0.01")) if v == v.quantize(Decimal("0.01")) else v
        return f"{sign}${cents:,} per share"
    text = f"{v:,}" if v == v.to_integral_value() else f"{v}"
    return f"{sign}{text} {unit}".rstrip()


def _item(code: str | None) -> str:
    return item_label(code) if code else "the cover page"


def _fact_public(cell: Cell, role: str, label: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "role": role,
        "concept": cell.concept,
        "label": label,
        "value": exact(cell.value),
        "unit": cell.unit,
        "period": {"start": cell.period.start, "end": cell.period.end}
        if cell.period.start
        else {"instant": cell.period.end},
        "fy": cell.period.fy,
        "fp": cell.period.fp,
        "derived": cell.derived,
    }
    source = cell.fact or next((c.fact for c in cell.derived_from if c.fact), None)
    if source is not None:
        out.update(
            accession=source.accession,
            form=source.form,
            filing_date=source.filing_date,
            section=source.section,
        )
    if cell.derived:
        out["derived_from"] = [
            {"fp": c.period.fp, "fy": c.period.fy, "value": exact(c.value)}
            for c in cell.derived_from
        ]
    return out


def _url(fact: xq.StoredFact) -> str | None:
    """The filing's sec.gov address: the stored one, else its index page."""
    if fact.url:
        return fact.url
    return archives_url(SEC_ARCHIVES, fact.cik, fact.accession, None) if fact.cik else None


def _citation(fact: xq.StoredFact) -> dict[str, Any]:
    return {
        "ticker": fact.ticker,
        "cik": fact.cik,
        "company": fact.company,
        "form": fact.form,
        "filing_date": fact.filing_date,
        "accession": fact.accession,
        "section": fact.section,
        "section_title": fact.section_title,
        "text": fact.context,
        "url": _url(fact),
        "score": 1.0,
        "fact": fact.concept,
    }


def answer_from_facts(
    conn: Connection,
    question: str,
    cik: int,
    cutoff: str | None,
    company_words: set[str],
) -> FactAnswer | None:
    """The facts-first answer to ``question`` about company ``cik`` as of ``cutoff``, or None
    when the question is not a numeric one this can answer exactly.

    ``company_words``: the words of the company's names and tickers (never a segment name).
    """
    found = _numeric(question)
    if found is None:
        return None
    item, match = found
    qualifier = _qualifier(question, match, company_words)
    facts = xq.facts_for(
        conn,
        cik,
        names=item.concepts,
        cutoff=cutoff,
        numeric_only=True,
        dimensional=bool(qualifier),
        limit=100_000,
    )
    label = item.label
    if qualifier:
        wanted = {_stem(w) for w in qualifier}
        facts = [
            f
            for f in facts
            if f.dimensions and len(json.loads(f.dimensions)) == 1
            and wanted <= _member_words(f.dimensions)
        ]  # fmt: skip
        members = {f.dimensions for f in facts}
        if len(members) != 1:
            return None  # no member, or several, named by those words
        member = next(iter(json.loads(next(iter(members))).values()))
        label = (
            f"{humanize(member.rsplit(':', 1)[-1]).removesuffix(' member')} {item.label.lower()}"
        )
    derive = not item.instant and not item.per_share
    cells = pick(item, cells_from_facts(facts, derive=derive))
    cell = _choose(cells, asked_period(question), item)
    if cell is None:
        return None
    prior = _prior(cells, cell)
    sources: list[xq.StoredFact] = []
    cited = [cell, *cell.derived_from, *([prior, *prior.derived_from] if prior else [])]
    for c in cited:
        if c.fact is not None and all(c.fact.accession != s.accession for s in sources):
            sources.append(c.fact)
    number = {s.accession: n for n, s in enumerate(sources, start=1)}

    def cite(c: Cell) -> str:
        marks = {number[x.fact.accession] for x in (c, *c.derived_from) if x.fact is not None}
        return "".join(f"[{n}]" for n in sorted(marks))

    main = cell.fact or cell.derived_from[0].fact
    assert main is not None
    company = main.company or main.ticker or "The company"
    where = f"its {main.form} filed {main.filing_date} ({_item(main.section)})"
    when = (
        f"as of {_period_words(cell, True)},"
        if item.instant
        else f"for {_period_words(cell, False)}"
    )
    text = f"{company}'s {label[0].lower() + label[1:]} {when} was {_amount(cell.value, cell.unit)}"
    if cell.derived:
        parts = " minus ".join(
            f"{_amount(c.value, c.unit)} for {_period_words(c, False)}" for c in cell.derived_from
        )
        text += f", computed as {parts}, as reported in its filings {cite(cell)}."
    else:
        text += f", as reported in {where} {cite(cell)}."
    answer_facts = [_fact_public(cell, "value", label)]
    if prior is not None and prior.value != 0:
        change = (cell.value - prior.value) / abs(prior.value) * 100
        rounded = change.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        direction = "up" if change > 0 else "down" if change < 0 else "unchanged"
        size = f" {abs(rounded)}%" if change else ""
        text += (
            f" That is {direction}{size} from {_amount(prior.value, prior.unit)}"
            f" {'as of' if item.instant else 'for'} {_period_words(prior, item.instant)}"
            f" {cite(prior)} (computed from the two reported figures)."
        )
        prior_fact = _fact_public(prior, "prior", label)
        answer_facts[0]["change_percent"] = exact(change.quantize(Decimal("0.01")))
        answer_facts.append(prior_fact)
    citations = [_citation(s) for s in sources]
    return FactAnswer(answer=text, citations=citations, facts=answer_facts)


def _company_words(conn: Connection, cik: int) -> set[str]:
    words: set[str] = set()
    for row in rq.companies(conn):
        if row.cik == cik:
            for name in row.names:
                words |= set(normalize_name(name).split())
            words |= {t.lower() for t in row.tickers}
    return words


def with_facts(
    conn: Connection, req: SearchRequest, companies: frozenset[int], body: dict[str, Any]
) -> dict[str, Any]:
    """The Q&A seam: ``body`` (the text answer) with ``facts`` added, and, when the question
    is a numeric one about one company that facts answer exactly, the facts' answer and
    citations first (the text search's citations follow, up to ``top_k`` in all)."""
    body = {**body, "facts": []}
    if _numeric(req.query) is None:
        return body  # most questions: no database work at all
    cik: int | None = None
    if req.ticker:
        known = xq.company_of(conn, req.ticker)
        cik = known[0] if known else None
    elif len(companies) == 1:
        cik = next(iter(companies))
    if cik is None:
        return body
    found = answer_from_facts(conn, req.query, cik, req.cutoff, _company_words(conn, cik))
    if found is None:
        return body
    room = max(0, req.top_k - len(found.citations))
    cited = {(c["accession"], c["section"]) for c in found.citations}
    further = [c for c in body["citations"] if (c["accession"], c["section"]) not in cited]
    return {
        **body,
        "answer": found.answer,
        "citations": found.citations + further[:room],
        "facts": found.facts,
    }
