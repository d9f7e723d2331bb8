# ruff: noqa: E501  (the hand-made inline-XBRL documents keep one element per line)
"""The inline-XBRL parser on hand-made documents (every feature, each able to fail alone), its
premise on the shared filings, the transformation rules and the fiscal calendar."""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from pathlib import Path

import lxml.etree
import pytest

from appliance.bootstrap import initialize
from appliance.db.connection import connect
from appliance.edgar.blocks import html_blocks
from appliance.edgar.filing import decompress, parse_filing
from appliance.edgar.fiscal import FiscalCalendar, FiscalPeriod
from appliance.edgar.importer import import_paths
from appliance.edgar.ixt import UnknownFormat, transform
from appliance.edgar.layout import PathHints
from appliance.edgar.xbrl import InlineXbrl, exact, extract_facts
from appliance.settings import load_settings
from tests.support.edgar_data import FILINGS

IX = "http://www.xbrl.org/2013/inlineXBRL"

HEADER = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:ix="http://www.xbrl.org/2013/inlineXBRL"
 xmlns:xbrli="http://www.xbrl.org/2003/instance" xmlns:xbrldi="http://xbrl.org/2006/xbrldi"
 xmlns:ixt="http://www.xbrl.org/inlineXBRL/transformation/2020-02-12"
 xmlns:ixt-sec="http://www.sec.gov/inlineXBRL/transformation/2015-08-31"
 xmlns:us-gaap="http://fasb.org/us-gaap/2024" xmlns:dei="http://xbrl.sec.gov/dei/2024"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><head><title>t</title></head><body>
<div style="display:none"><ix:header><ix:hidden>
 <ix:nonNumeric name="dei:DocumentFiscalYearFocus" contextRef="fy">2024</ix:nonNumeric>
 <ix:nonNumeric name="dei:DocumentFiscalPeriodFocus" contextRef="fy">FY</ix:nonNumeric>
 <ix:nonNumeric name="dei:CurrentFiscalYearEndDate" contextRef="fy">--09-28</ix:nonNumeric>
 <ix:nonNumeric name="dei:DocumentPeriodEndDate" contextRef="fy"
  format="ixt:date-monthname-day-year-en">September 28, 2024</ix:nonNumeric>
 <ix:nonFraction name="us-gaap:Goodwill" id="gw" contextRef="end" unitRef="usd" decimals="-6"
  scale="6" format="ixt:num-dot-decimal">1,234</ix:nonFraction>
 <ix:nonFraction name="us-gaap:Liabilities" contextRef="end" unitRef="usd" decimals="-6"
  scale="6" format="ixt:num-dot-decimal">999</ix:nonFraction>
</ix:hidden><ix:resources>
 <xbrli:context id="fy"><xbrli:entity><xbrli:identifier scheme="http://www.sec.gov/CIK">0000000042</xbrli:identifier></xbrli:entity>
  <xbrli:period><xbrli:startDate>2023-10-01</xbrli:startDate><xbrli:endDate>2024-09-28</xbrli:endDate></xbrli:period></xbrli:context>
 <xbrli:context id="end"><xbrli:entity><xbrli:identifier scheme="http://www.sec.gov/CIK">0000000042</xbrli:identifier></xbrli:entity>
  <xbrli:period><xbrli:instant>2024-09-28</xbrli:instant></xbrli:period></xbrli:context>
 <xbrli:context id="fy-seg"><xbrli:entity><xbrli:identifier scheme="http://www.sec.gov/CIK">0000000042</xbrli:identifier>
  <xbrli:segment><xbrldi:explicitMember dimension="us-gaap:StatementBusinessSegmentsAxis">x:AmericasMember</xbrldi:explicitMember>
  <xbrldi:typedMember dimension="x:RegionAxis"><x:region>North</x:region></xbrldi:typedMember></xbrli:segment></xbrli:entity>
  <xbrli:period><xbrli:startDate>2023-10-01</xbrli:startDate><xbrli:endDate>2024-09-28</xbrli:endDate></xbrli:period></xbrli:context>
 <xbrli:unit id="usd"><xbrli:measure>iso4217:USD</xbrli:measure></xbrli:unit>
 <xbrli:unit id="eps"><xbrli:divide><xbrli:unitNumerator><xbrli:measure>iso4217:USD</xbrli:measure></xbrli:unitNumerator>
  <xbrli:unitDenominator><xbrli:measure>xbrli:shares</xbrli:measure></xbrli:unitDenominator></xbrli:divide></xbrli:unit>
 <xbrli:unit id="pure"><xbrli:measure>xbrli:pure</xbrli:measure></xbrli:unit>
</ix:resources></ix:header></div>
"""


def _doc(body: str) -> str:
    return HEADER + body + "</body></html>"


def _extract(body: str) -> InlineXbrl:
    parsed = html_blocks(_doc(body))
    found = extract_facts(parsed.root, parsed.anchors)
    assert found is not None
    return found


def _one(found: InlineXbrl, concept: str) -> tuple[str, str | None]:
    facts = [f for f in found.facts if f.concept == concept]
    assert len(facts) == 1, facts
    return facts[0].value, facts[0].unit


def test_numbers_scale_sign_format_and_units() -> None:
    found = _extract(
        """<table><tr><td>Net sales</td><td>
        <ix:nonFraction name="us-gaap:Revenues" contextRef="fy" unitRef="usd" decimals="-6"
         scale="6" format="ixt:num-dot-decimal">391,035</ix:nonFraction></td></tr>
        <tr><td>Other</td><td>(<ix:nonFraction name="us-gaap:OtherNonoperatingIncomeExpense"
         contextRef="fy" unitRef="usd" decimals="-6" scale="6" sign="-">565</ix:nonFraction>)</td></tr>
        <tr><td>EPS</td><td><ix:nonFraction name="us-gaap:EarningsPerShareDiluted" contextRef="fy"
         unitRef="eps" decimals="2" format="ixt:num-dot-decimal">6.10</ix:nonFraction></td></tr>
        <tr><td>Rate</td><td><ix:nonFraction name="us-gaap:EffectiveIncomeTaxRate" contextRef="fy"
         unitRef="pure" decimals="3" scale="-2">24.1</ix:nonFraction>%</td></tr>
        <tr><td>Impairment</td><td><ix:nonFraction name="us-gaap:Impairment" contextRef="fy"
         unitRef="usd" decimals="-6" scale="6" format="ixt:fixed-zero">\u2014</ix:nonFraction></td></tr>
        <tr><td>Vendors</td><td><ix:nonFraction name="us-gaap:Vendors" contextRef="fy"
         unitRef="pure" decimals="INF" format="ixt-sec:numwordsen">two</ix:nonFraction></td></tr>
        <tr><td>Euro style</td><td><ix:nonFraction name="us-gaap:Euro" contextRef="fy"
         unitRef="usd" decimals="2" format="ixt:num-comma-decimal">1.234,50</ix:nonFraction></td></tr>
        <tr><td>Nil</td><td><ix:nonFraction name="us-gaap:Nothing" contextRef="fy" unitRef="usd"
         xsi:nil="true"/></td></tr>
        <tr><td>Odd</td><td><ix:nonFraction name="us-gaap:Odd" contextRef="fy" unitRef="usd"
         format="ixt:date-monthname-day-year-en">May 1, 2024</ix:nonFraction></td></tr>
        </table>"""
    )
    assert _one(found, "us-gaap:Revenues") == ("391035000000", "USD")
    assert _one(found, "us-gaap:OtherNonoperatingIncomeExpense") == ("-565000000", "USD")
    assert _one(found, "us-gaap:EarningsPerShareDiluted") == ("6.1", "USD/shares")
    assert _one(found, "us-gaap:EffectiveIncomeTaxRate") == ("0.241", "pure")
    assert _one(found, "us-gaap:Impairment") == ("0", "USD")
    assert _one(found, "us-gaap:Vendors") == ("2", "pure")
    assert _one(found, "us-gaap:Euro") == ("1234.5", "USD")
    assert not [f for f in found.facts if f.concept in ("us-gaap:Nothing", "us-gaap:Odd")]
    assert found.skipped == {"nil": 1, "unsupported format ixt:date-monthname-day-year-en": 1}


def test_contexts_dimensions_and_hidden_facts() -> None:
    found = _extract(
        """<p>Goodwill was <span style="-sec-ix-hidden:gw">$1.2 billion</span>.</p>
        <p><ix:nonFraction name="us-gaap:Revenues" contextRef="fy-seg" unitRef="usd"
         decimals="-6" scale="6" format="ixt:num-dot-decimal">167,045</ix:nonFraction></p>
        <p><ix:nonFraction name="us-gaap:Bad" contextRef="fy" unitRef="usd"
         decimals="-6">1,045</ix:nonFraction> (no format: not a plain number)</p>"""
    )
    assert found.skipped == {"unreadable number": 1}
    seg = next(f for f in found.facts if f.concept == "us-gaap:Revenues")
    assert seg.context.dimensions == (
        ("us-gaap:StatementBusinessSegmentsAxis", "x:AmericasMember"),
        ("x:RegionAxis", "North"),
    )
    assert (seg.context.start, seg.context.end, seg.hidden) == ("2023-10-01", "2024-09-28", False)
    goodwill = next(f for f in found.facts if f.concept == "us-gaap:Goodwill")
    liabilities = next(f for f in found.facts if f.concept == "us-gaap:Liabilities")
    assert goodwill.hidden and liabilities.hidden
    assert goodwill.context.instant and goodwill.context.end == "2024-09-28"
    assert goodwill.blocks and not liabilities.blocks  # shown through -sec-ix-hidden only
    assert found.dei("DocumentFiscalYearFocus") == "2024"


def test_continuations_and_excludes_make_one_text_value() -> None:
    found = _extract(
        """<p><ix:nonNumeric name="us-gaap:Policy" contextRef="fy" continuedAt="c1">Revenue is
        recognized <ix:exclude>[page 12]</ix:exclude>when control</ix:nonNumeric></p>
        <p>unrelated text</p>
        <p><ix:continuation id="c1" continuedAt="c2">passes to the</ix:continuation></p>
        <p><ix:continuation id="c2">customer.</ix:continuation></p>"""
    )
    value, unit = _one(found, "us-gaap:Policy")
    assert value == "Revenue is recognized when control passes to the customer."
    assert unit is None


def test_duplicates_kept_once_and_conflicts_reported() -> None:
    found = _extract(
        """<p><ix:nonFraction name="us-gaap:Assets" contextRef="end" unitRef="usd" decimals="-6"
         scale="6" format="ixt:num-dot-decimal">364,980</ix:nonFraction></p>
        <p><ix:nonFraction name="us-gaap:Assets" contextRef="end" unitRef="usd" decimals="-9"
         scale="9">365.0</ix:nonFraction></p>
        <p><ix:nonFraction name="us-gaap:Cash" contextRef="end" unitRef="usd" decimals="-6"
         scale="6" format="ixt:num-dot-decimal">29,943</ix:nonFraction></p>
        <p><ix:nonFraction name="us-gaap:Cash" contextRef="end" unitRef="usd" decimals="-6"
         scale="6" format="ixt:num-dot-decimal">29,965</ix:nonFraction></p>"""
    )
    assert _one(found, "us-gaap:Assets") == ("364980000000", "USD")  # the more precise one
    assert found.duplicates == 1
    assert [(c.concept, c.period, c.values) for c in found.conflicts] == [
        ("us-gaap:Cash", "2024-09-28", ("29943000000", "29965000000"))
    ]


def test_no_xbrl_means_no_facts() -> None:
    parsed = html_blocks("<html><body><p>Plain old filing with 1,234 dollars.</p></body></html>")
    assert extract_facts(parsed.root, parsed.anchors) is None


def test_a_fact_is_placed_in_the_item_it_is_tagged_in() -> None:
    body = "".join(
        f"<p><b>Item {code}. {title}</b></p><p>{text}</p>"
        for code, title, text in (
            ("1", "Business", "We make things. " * 30),
            ("7", "Management's Discussion and Analysis", "Sales grew. " * 30
             + '<ix:nonFraction name="us-gaap:Revenues" contextRef="fy" unitRef="usd"'
             ' decimals="-6" scale="6" format="ixt:num-dot-decimal">391,035</ix:nonFraction>'),
            ("8", "Financial Statements and Supplementary Data", "Statements. " * 30),
        )
    )  # fmt: skip
    body += """<table><tr><td>Total net sales</td><td>$</td><td><ix:nonFraction
        name="us-gaap:Revenues" contextRef="fy" unitRef="usd" decimals="-6" scale="6"
        format="ixt:num-dot-decimal">391,035</ix:nonFraction></td></tr>
        <tr><td>Vendors</td><td><ix:nonFraction name="us-gaap:Vendors" contextRef="fy"
        unitRef="pure" decimals="INF">3</ix:nonFraction></td></tr></table>"""
    parsed = parse_filing(_doc(body).encode(), PathHints(kind="filing", form="10-K"))
    assert [s.code for s in parsed.sections] == ["1", "7", "8"]
    assert parsed.facts is not None
    rows = {r.concept: r for r in parsed.facts.rows}
    revenue = rows["us-gaap:Revenues"]
    # Shown in MD&A first, but cited where the statements are; labelled as printed there.
    assert (revenue.section, revenue.label, revenue.fy, revenue.fp) == (
        "8", "Total net sales", 2024, "FY",
    )  # fmt: skip
    assert "Total net sales | $391,035" in revenue.context
    assert rows["us-gaap:Goodwill"].section is None  # hidden, shown nowhere
    assert rows["us-gaap:Vendors"].label == "Vendors"
    assert parsed.facts.fiscal_year == 2024 and parsed.facts.fiscal_period == "FY"


@pytest.mark.parametrize(
    "name",
    [
        "AAPL/10-K_2025-10-31_0000320193-25-000079.htm.gz",
        "NVDA/10-K_2025-02-26_0001045810-25-000023.htm.gz",
        "TSLA/10-Q_2025-07-24_0001628280-25-035806.htm.gz",
    ],
)
def test_html_tree_holds_the_same_facts_as_a_strict_xml_parse(name: str) -> None:
    """The premise of reading the HTML parser's tree: on a well-formed filing it has the same
    ix elements, in the same order, with the same text, as namespace-aware XML parsing."""
    data = decompress((FILINGS / name).read_bytes())
    strict = lxml.etree.fromstring(data, parser=lxml.etree.XMLParser(huge_tree=True))
    html = html_blocks(data.decode("utf-8"))
    assert html.root is not None
    for local in ("nonFraction", "nonNumeric", "continuation"):
        want = [
            (e.get("name"), e.get("contextRef"), "".join(e.itertext()))
            for e in strict.iter(f"{{{IX}}}{local}")
        ]
        got = [
            (e.get("name"), e.get("contextref"), "".join(e.itertext()))
            for e in html.root.iter(f"ix:{local.lower()}")
        ]
        assert got == want and want, local
    found = extract_facts(html.root, html.anchors)
    assert found is not None
    nils = sum(1 for e in strict.iter(f"{{{IX}}}nonFraction") if e.get(f"{{{XSI}}}nil") == "true")
    numeric = {f.key for f in found.facts if f.numeric}
    assert len(numeric) + found.duplicates + nils >= len(list(strict.iter(f"{{{IX}}}nonFraction")))


XSI = "http://www.w3.org/2001/XMLSchema-instance"


@pytest.mark.parametrize(
    ("rule", "text", "value"),
    [
        ("ixt:num-dot-decimal", "3,253,431,000,000", "3253431000000"),
        ("ixt:numdotdecimal", "1 234.5", "1234.5"),
        ("ixt:num-comma-decimal", "1.234,5", "1234.5"),
        ("ixt:fixed-zero", "\u2014", "0"),
        ("ixt-sec:numwordsen", "None", "0"),
        ("ixt-sec:numwordsen", "twenty-one", "21"),
        ("ixt-sec:numwordsen", "one hundred five thousand", "105000"),
        ("ixt:date-monthname-day-year-en", "September 27, 2025", "2025-09-27"),
        ("ixt:datemonthdayyearen", "November 7, 2019", "2019-11-07"),
        ("ixt:date-month-day-year", "09/27/2025", "2025-09-27"),
        ("ixt:date-monthname-day-en", "September 27", "--09-27"),
        ("ixt:date-month-day", "12/31", "--12-31"),
        ("ixt:date-monthname-year-en", "December 2024", "2024-12"),
        ("ixt-sec:duryear", "three", "P3Y"),
        ("ixt-sec:durwordsen", "one year and six months", "P1Y6M"),
        ("ixt-sec:boolballotbox", "\u2612", "true"),
        ("ixt:fixed-false", "No", "false"),
        (None, " 2024 ", "2024"),
    ],
)
def test_transformation_rules(rule: str | None, text: str, value: str) -> None:
    assert transform(rule, text) == value


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("ixt:num-dot-decimal", "n/a"),
        ("ixt-sec:numwordsen", "several"),
        ("ixt:date-monthname-day-year-en", "Smarch 1, 2024"),
        ("ixt:no-such-rule", "1"),
    ],
)
def test_transformation_rules_refuse_what_they_cannot_read(rule: str, text: str) -> None:
    with pytest.raises(UnknownFormat):
        transform(rule, text)


def test_exact_decimal_strings() -> None:
    assert exact(Decimal("2.47") * Decimal(10) ** 9) == "2470000000"
    assert exact(Decimal("1.40")) == "1.4"
    assert exact(Decimal("-0.0")) == "0"
    assert re.fullmatch(r"-?\d+(\.\d+)?", exact(Decimal("1E+20")))


def test_fiscal_calendar_of_52_53_week_years() -> None:
    apple = FiscalCalendar.from_filing("2025", "FY", "2025-09-27", "--09-27")
    assert apple is not None
    assert apple.period("2024-09-29", "2025-09-27") == FiscalPeriod(2025, "FY")
    assert apple.period("2022-09-25", "2023-09-30") == FiscalPeriod(2023, "FY")  # 53 weeks
    assert apple.period("2025-03-30", "2025-06-28") == FiscalPeriod(2025, "Q3")
    assert apple.period("2024-09-29", "2025-06-28") == FiscalPeriod(2025, "9M")
    assert apple.period("2024-09-29", "2025-03-29") == FiscalPeriod(2025, "6M")
    assert apple.period(None, "2024-09-28") == FiscalPeriod(2024, "FY")
    assert apple.period(None, "2025-03-29") == FiscalPeriod(2025, "Q2")
    assert apple.period(None, "2025-10-17") is None  # a cover-page date, no period end
    assert apple.period("2024-06-30", "2025-06-28") is None  # trailing twelve months


def test_fiscal_year_number_comes_from_the_filing() -> None:
    nvidia = FiscalCalendar.from_filing("2026", "Q2", "2025-07-27", "--01-26")
    assert nvidia is not None
    assert nvidia.period("2025-04-28", "2025-07-27") == FiscalPeriod(2026, "Q2")
    assert nvidia.period("2022-01-31", "2023-01-29") == FiscalPeriod(2023, "FY")
    # A retailer calling the year that ends on February 1, 2025 "fiscal 2024".
    retailer = FiscalCalendar.from_filing("2024", "FY", "2025-02-01", None)
    assert retailer is not None
    assert retailer.period("2024-02-04", "2025-02-01") == FiscalPeriod(2024, "FY")
    assert retailer.period("2024-11-03", "2025-02-01") == FiscalPeriod(2024, "Q4")
    assert FiscalCalendar.from_filing("2024", "Q2", "2024-06-30", None) is None
    assert FiscalCalendar.from_filing(None, "FY", "2024-12-31", None) is None


def test_import_reports_and_logs_conflicting_facts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    body = "".join(
        f"<p><b>Item {code}. {title}</b></p><p>{'Text of the item. ' * 40}</p>"
        for code, title in (("1", "Business"), ("8", "Financial Statements"))
    )
    body += """<table><tr><td>Cash</td><td><ix:nonFraction name="us-gaap:Cash" contextRef="end"
        unitRef="usd" decimals="-6" scale="6" format="ixt:num-dot-decimal">29,943</ix:nonFraction>
        </td></tr><tr><td>Cash again</td><td><ix:nonFraction name="us-gaap:Cash" contextRef="end"
        unitRef="usd" decimals="-6" scale="6" format="ixt:num-dot-decimal">29,965</ix:nonFraction>
        </td></tr></table>"""
    path = tmp_path / "CIK0000000042" / "10-K_2024-11-01_0000000042-24-000001.htm"
    path.parent.mkdir()
    path.write_text(_doc(body))
    settings = load_settings(data_dir=tmp_path / "data", load_models=False, access_log=False)
    initialize(settings)
    conn = connect(settings.db_path)
    try:
        with caplog.at_level(logging.WARNING, logger="appliance.edgar"):
            report = import_paths(conn, [path])
        stored = conn.execute("SELECT value FROM facts WHERE name = 'Cash'").fetchall()
    finally:
        conn.close()
    (outcome,) = report.files
    assert outcome.status == "imported" and outcome.fact_conflicts == 1
    assert [row[0] for row in stored] == ["29943000000"]  # one kept
    assert "us-gaap:Cash 2024-09-28: 29943000000 vs 29965000000" in caplog.text
