"""The section splitter on every shared filing, and on synthetic filings it has never seen."""

from __future__ import annotations

import random
import re
from functools import cache
from pathlib import Path

import pytest

from appliance.edgar.blocks import Block, html_blocks, plain_blocks
from appliance.edgar.filing import ParsedFiling, parse_filing
from appliance.edgar.items import FORM_10K_ITEMS, FORM_10Q_ITEMS
from appliance.edgar.layout import hints_for
from appliance.edgar.sections import split_sections
from tests.support.edgar_data import EXPECTED_ITEMS, key, read, shared_filings


@cache
def parsed(name: str) -> ParsedFiling:
    path = next(p for p in shared_filings() if key(p) == name)
    return parse_filing(read(path), hints_for(path.with_name(key(path))))


def sizes(name: str) -> dict[str, int]:
    return {s.code: s.char_count for s in parsed(name).sections}


def text(name: str, code: str) -> str:
    return next(s.text for s in parsed(name).sections if s.code == code)


def test_the_expectations_cover_every_shared_filing() -> None:
    assert sorted(key(p) for p in shared_filings()) == sorted(EXPECTED_ITEMS)


@pytest.mark.parametrize("name", sorted(EXPECTED_ITEMS))
def test_each_filing_has_its_items_in_document_order(name: str) -> None:
    sections = parsed(name).sections
    assert [s.code for s in sections] == EXPECTED_ITEMS[name]
    assert [s.ordinal for s in sections] == list(range(len(sections)))
    standard = {i.code: i.title for i in (*FORM_10K_ITEMS.items, *FORM_10Q_ITEMS.items)}
    for s in sections:
        # A title never swallows the first words of the body.
        assert s.title and len(s.title) <= len(standard.get(s.code, "Form 8-K")) + 30, s.title
        # No section swallows another Item's body heading.
        assert not re.search(r"\n(?:ITEM|Item) 1A\.? ?\n?Risk Factors\n", s.text[:300]), s.code


@pytest.mark.parametrize(
    "name",
    [n for n, items in EXPECTED_ITEMS.items() if "7" in items and n.startswith("10-K_20")],
)
def test_modern_10k_sections_have_plausible_sizes(name: str) -> None:
    got = sizes(name)
    assert got["1"] > 5_000
    assert got["7"] > 10_000
    if "1A" in got and not name.startswith("10-K_2016"):  # the fund: "NOT APPLICABLE"
        assert got["1A"] > 10_000
    # Nothing runs away: a one-line Item (Mine Safety, 10-K Summary) stays small.
    assert got.get("4", 0) < 10_000 and got.get("16", 0) < 25_000


def test_apple_10k_risk_factors_start_in_the_body_not_the_toc() -> None:
    name = "10-K_2024-11-01_0000320193-24-000123.htm"
    risk = text(name, "1A")
    assert len(risk) > 50_000
    assert risk.startswith("The Company\u2019s business, reputation, results of operations")
    assert "Item 1B" not in risk[:2000] and "Unresolved Staff Comments" not in risk[:2000]
    # The TOC's page numbers, the page footers and the inline-XBRL header are gone.
    assert "Apple Inc. | 2024 Form 10-K |" not in risk
    assert "0000320193" not in text(name, "1")
    assert text(name, "1B") == "None."
    assert text(name, "4") == "Not applicable."


def test_tables_are_rows_of_cells() -> None:
    statements = text("10-K_2024-11-01_0000320193-24-000123.htm", "8")
    assert re.search(r"^Total net sales \| \$\s?391,035 \| \$\s?383,285 \| \$\s?394,328$",
                     statements, re.M)  # fmt: skip


def test_tesla_10q_finds_all_eleven_items() -> None:
    name = "10-Q_2025-07-24_0001628280-25-035806.htm"
    got = sizes(name)
    assert got["part1_item1"] > 30_000 and got["part1_item2"] > 20_000
    assert got["part2_item1a"] > 1_000
    assert text(name, "part2_item3") == "None."
    assert text(name, "part1_item1").startswith("Tesla, Inc.\nConsolidated Balance Sheets")


def test_nvidia_item_8_points_to_item_15_which_holds_the_statements() -> None:
    name = "10-K_2025-02-26_0001045810-25-000023.htm"
    item8 = text(name, "8")
    assert len(item8) < 500 and "Consolidated Financial Statements" in item8
    assert "Consolidated Balance Sheets" in text(name, "15")
    assert sizes(name)["15"] > 50_000


def test_trailing_financial_statements_go_to_the_item_8_pointer() -> None:
    # CARBO prints Item 8 as "see pages F-3 ..." and the F-pages after Item 16.
    name = "10-K_2018-03-08_0001564590-18-004771.htm"
    got = sizes(name)
    assert got["8"] > 50_000 and got["16"] < 25_000
    assert "REPORT OF INDEPENDENT REGISTERED PUBLIC ACCOUNTING FIRM" in text(name, "8")
    assert text(name, "16").startswith("None")


def test_1999_layout_without_toc_or_item_1a() -> None:
    name = "10-K_1999-09-28_0000950153-99-001234.html"
    got = sizes(name)
    assert got["1"] > 50_000
    # Items 10-12 share the text printed under Item 13; pre-2003 Item 14 is the exhibits.
    assert got["10"] == got["11"] == got["12"] == 0
    assert "Items 10, 11, 12 and 13" in text(name, "13")
    assert "Exhibits" in parsed(name).sections[-1].title
    assert text(name, "14").startswith("Item 14(a)(1)")  # sub-items do not split Item 14


def test_2010_upper_case_html_with_layout_table_headings() -> None:
    name = "10-K_2010-03-31_0001193125-10-073212.html"
    assert sizes(name)["1A"] > 20_000
    assert parsed(name).sections[1].title == "RISK FACTORS"


def test_tag_stripped_text_keeps_wrapped_titles_and_skips_the_toc() -> None:
    name = "10-K_1995-12-19_0000320193-95-000016.tagstripped.txt"
    titles = {s.code: s.title for s in parsed(name).sections}
    assert titles["5"].endswith("Stockholder Matters")
    name = "10-K_2019-10-31_0000320193-19-000119.tagstripped.txt"
    assert text(name, "1").startswith("Company Background")
    assert sizes(name)["1A"] > 30_000


def test_old_plain_text_10q_tracks_parts() -> None:
    name = "10-Q_2000-05-11_0000912057-00-023442.txt"
    got = sizes(name)
    assert got["part1_item2"] > 10_000 and got["part2_item1"] > 100
    assert "annual meeting" in text(name, "part2_item4").lower()


# ----- filings the splitter has never seen -------------------------------------------------

_K_TITLES = {i.code: i.title for i in FORM_10K_ITEMS.items}


def _heading_html(rng: random.Random, label: str, title: str) -> str:
    style = rng.randrange(5)
    if style == 0:
        return f"<p><b>{label}.&nbsp;&nbsp;{title}</b></p>"
    if style == 1:
        return (f'<div><span style="font-weight:700">{label.upper()}.</span>'
                f'<span style="font-weight:700"> {title.upper()}</span></div>')  # fmt: skip
    if style == 2:
        return f"<table><tr><td><b>{label}</b></td><td><b>{title}</b></td></tr></table>"
    if style == 3:
        return (
            f'<P ALIGN="left"><FONT SIZE="2"><B>{label.upper()}</B></FONT></P><P><B>{title}</B></P>'
        )
    return f"<h2>{label} &#8212; {title}</h2>"


def _paragraphs(rng: random.Random, code: str, n: int) -> str:
    words = ["revenue", "customers", "supply", "risk", "market", "product", "growth", "costs"]
    out = []
    for i in range(n):
        body = " ".join(rng.choice(words) for _ in range(60))
        if i == 1:
            # In-text references must not start sections.
            body = f"As discussed in Part II, Item 7 of this report, {body}. See Item 1A."
        out.append(f"<p>Section {code} paragraph {i}: {body}.</p>")
    return "".join(out)


def _synthetic_10k(rng: random.Random, codes: list[str], toc: str) -> str:
    parts = ['<?xml version="1.0"?><html><body>',
             '<div style="display:none"><ix:header>dei 0000999999 hidden</ix:header></div>',
             "<p>UNITED STATES SECURITIES AND EXCHANGE COMMISSION</p><p>FORM 10-K</p>"]  # fmt: skip
    if toc == "linked":
        rows = "".join(
            f'<tr><td>Item {c}.</td><td><a href="#i{c}">{_K_TITLES[c]}</a></td>'
            f"<td>{n + 3}</td></tr>"
            for n, c in enumerate(codes)
        )
        parts.append(f"<table>{rows}</table>")
    elif toc == "plain":
        parts.extend(f"<p>Item {c}. {_K_TITLES[c]} {n + 3}</p>" for n, c in enumerate(codes))
    for c in codes:
        parts.append(f'<a name="i{c}"></a>' + _heading_html(rng, f"Item {c}", _K_TITLES[c]))
        parts.append(_paragraphs(rng, c, rng.randint(1, 6)))
        parts.append('<p style="text-align:center">Acme Corp | 2031 Form 10-K | 17</p>')
    parts.append("</body></html>")
    return "".join(parts)


@pytest.mark.parametrize("seed", range(24))
def test_synthetic_10k_layouts_split_exactly(seed: int) -> None:
    rng = random.Random(seed)
    codes = [c for c in _K_TITLES if rng.random() > 0.25]
    toc = ["linked", "plain", "none"][seed % 3]
    html = _synthetic_10k(rng, codes, toc)
    sections = split_sections(html_blocks(html).blocks, "10-K")
    assert [s.code for s in sections] == codes
    for s in sections:
        assert s.text.startswith(f"Section {s.code} paragraph 0"), (s.code, s.text[:80])
        assert f"Section {s.code} " in s.text and "Form 10-K | 17" not in s.text
        assert "0000999999" not in s.text  # hidden ix:header content


def test_items_printed_out_of_order_are_kept() -> None:
    rng = random.Random(7)
    codes = ["1", "1A", "1B", "2", "3", "4", "5", "7", "7A", "8", "9", "9A", "1C", "10", "15"]
    html = _synthetic_10k(rng, codes, "linked")
    got = [s.code for s in split_sections(html_blocks(html).blocks, "10-K")]
    assert got == codes


def test_synthetic_10q_parts_decide_repeated_item_numbers() -> None:
    titles = {i.code: i.title for i in FORM_10Q_ITEMS.items}
    body = ["<html><body><p><b>PART I. FINANCIAL INFORMATION</b></p>"]
    for code in ["part1_item1", "part1_item2", "part1_item3", "part1_item4"]:
        number = code.split("item")[1].upper()
        body.append(f"<p><b>Item {number}. {titles[code]}</b></p><p>text of {code} here.</p>")
    body.append("<p><b>PART II. OTHER INFORMATION</b></p>")
    for code in ["part2_item1", "part2_item1a", "part2_item2", "part2_item6"]:
        number = code.split("item")[1].upper()
        body.append(f"<p><b>Item {number}. {titles[code]}</b></p><p>text of {code} here.</p>")
    sections = split_sections(html_blocks("".join(body) + "</body></html>").blocks, "10-Q")
    assert [(s.code, s.text) for s in sections] == [
        (c, f"text of {c} here.")
        for c in ["part1_item1", "part1_item2", "part1_item3", "part1_item4",
                  "part2_item1", "part2_item1a", "part2_item2", "part2_item6"]
    ]  # fmt: skip


def test_plain_text_reference_lines_are_not_headings() -> None:
    lines = [
        "PART I",
        "",
        "ITEM 1. BUSINESS",
        "",
        "The Company makes things. Further information is in Part II,",
        "Item 7 of this Form 10-K under the heading Results.",
        "",
        "ITEM 2. PROPERTIES",
        "",
        "The Company leases offices.",
    ]
    sections = split_sections(plain_blocks("\n".join(lines)), "10-K", plain=True)
    assert [s.code for s in sections] == ["1", "2"]
    assert "Item 7 of this Form 10-K" in sections[0].text


def test_no_items_means_no_sections() -> None:
    blocks = [Block(text="Quarterly newsletter"), Block(text="Nothing to split here.")]
    assert split_sections(blocks, "10-K") == []
    assert split_sections(blocks, "8-K") == []


def test_a_path_outside_the_shared_set_gets_hints(tmp_path: Path) -> None:
    hints = hints_for(tmp_path / "CIK0000320193" / "10-K-A_2020-01-02_0000320193-20-000001.htm")
    assert (hints.kind, hints.cik, hints.form) == ("filing", 320193, "10-K/A")


def _varied_10k(rng: random.Random, codes: list[str]) -> tuple[str, list[str]]:
    """A 10-K exercising layouts seen across filers: plain TOC without page numbers, part
    prefixes, run-in headings, "(continued)" repeats, back-links, reference paragraphs."""
    toc_kind = rng.randrange(3)
    parts = ["<html><body><p>FORM 10-K</p><p>TABLE OF CONTENTS</p>"]
    for c in codes:
        if toc_kind == 0:
            parts.append(f"<p>Item {c}. {_K_TITLES[c]}</p>")
        elif toc_kind == 1:
            parts.append(f'<p><a href="#x{c}">ITEM {c}</a> {_K_TITLES[c].upper()}</p>')
        else:
            parts.append(
                f"<div>Item {c}</div><div>{_K_TITLES[c]}</div><div>{rng.randint(2, 90)}</div>"
            )
    expected_text: list[str] = []
    for n, c in enumerate(codes):
        title = _K_TITLES[c]
        first = f"Body of {c} starts here."
        style = rng.randrange(6)
        if style == 0:
            part = {"1": "I", "5": "II", "10": "III", "15": "IV"}.get(c)
            prefix = f"PART {part} &#8212; " if part else ""
            parts.append(f"<p><b>{prefix}ITEM {c}. {title.upper()}</b></p><p>{first}</p>")
        elif style == 1:
            parts.append(f"<p><b>Item {c}. {title}.</b> {first}</p>")
        elif style == 2:
            parts.append(f"<p><b>ITEM {c}.</b></p><p>{first}</p>")
        elif style == 3:
            parts.append(
                f'<table><tr><td style="font-weight:bold">Item&#160;{c}.</td>'
                f'<td style="font-weight:bold">{title}</td></tr></table><p>{first}</p>'
            )
        elif style == 4:
            parts.append(f"<p><u>Item {c} - {title}</u></p><p>{first}</p>")
        else:
            parts.append(f"<h3>ITEM {c}: {title.upper()}</h3><p>{first}</p>")
        parts.append(_paragraphs(rng, c, rng.randint(0, 3)))
        if rng.random() < 0.3:
            parts.append(f"<p>Item {c} of this report is discussed further below in detail.</p>")
        if rng.random() < 0.3:
            parts.append('<p><a href="#toc">Table of Contents</a></p>')
        if rng.random() < 0.2 and len(title) < 60:
            parts.append(f"<p><b>Item {c}. {title} (continued)</b></p><p>More of {c}.</p>")
        expected_text.append(first)
        if n == 0 and rng.random() < 0.5:
            parts.append("<p><b>Risk Factors Summary</b></p><p>Short list.</p>")
    parts.append("<p>SIGNATURES</p><p>Pursuant to the requirements ...</p></body></html>")
    return "".join(parts), expected_text


@pytest.mark.parametrize("seed", range(40))
def test_varied_10k_layouts(seed: int) -> None:
    rng = random.Random(1000 + seed)
    codes = [c for c in _K_TITLES if rng.random() > 0.2]
    html, firsts = _varied_10k(rng, codes)
    sections = split_sections(html_blocks(html).blocks, "10-K")
    assert [s.code for s in sections] == codes
    for s, first in zip(sections, firsts, strict=True):
        assert s.text.startswith(first), (s.code, s.text[:100])
        assert "Table of Contents" not in s.text


_Q_TITLES = {i.code: i.title for i in FORM_10Q_ITEMS.items}


def _varied_10q(rng: random.Random, codes: list[str], part_markers: bool) -> tuple[str, list[str]]:
    parts = ["<html><body><p>FORM 10-Q</p><table>"]
    for c in codes:
        number = c.split("item")[1].upper()
        parts.append(
            f'<tr><td>Item {number}.</td><td><a href="#{c}">{_Q_TITLES[c]}</a></td><td>4</td></tr>'
        )
    parts.append("</table>")
    firsts = []
    current_part = 0
    for c in codes:
        part = 1 if c.startswith("part1") else 2
        if part != current_part and part_markers:
            name = "FINANCIAL INFORMATION" if part == 1 else "OTHER INFORMATION"
            roman = "I" if part == 1 else "II"
            parts.append(rng.choice([f"<p><b>PART {roman} — {name}</b></p>",
                                     f"<p>Part {roman}. {name.title()}</p>"]))  # fmt: skip
        current_part = part
        number = c.split("item")[1].upper()
        title = _Q_TITLES[c]
        heading = _heading_html(rng, f"Item {number}", title)
        first = f"Text of {c} begins."
        parts.append(f'<a name="{c}"></a>{heading}<p>{first}</p>')
        parts.append(_paragraphs(rng, c, rng.randint(0, 2)))
        if c == "part2_item5" and rng.random() < 0.7:
            # 8-K style decimal items inside "Other Information" are not 10-Q Items.
            parts.append("<p><b>Item 5.02 Departure of Directors or Certain Officers</b></p>"
                         "<p>On May 1 the director resigned.</p>")  # fmt: skip
        firsts.append(first)
    parts.append("</body></html>")
    return "".join(parts), firsts


@pytest.mark.parametrize("seed", range(30))
def test_varied_10q_layouts(seed: int) -> None:
    rng = random.Random(5000 + seed)
    codes = [c for c in _Q_TITLES if rng.random() > 0.25 or c == "part1_item1"]
    html, firsts = _varied_10q(rng, codes, part_markers=seed % 4 != 0)
    sections = split_sections(html_blocks(html).blocks, "10-Q")
    assert [s.code for s in sections] == codes
    for s, first in zip(sections, firsts, strict=True):
        assert s.text.startswith(first), (s.code, s.text[:80])


def test_combined_and_unspaced_headings() -> None:
    html = (
        "<html><body><p><b>Items 1 and 2. Business and Properties</b></p><p>We make things.</p>"
        "<p><b>Item 1A.Risk Factors</b></p><p>Risks abound.</p>"
        "<p><b>ITEM 7 A. QUANTITATIVE AND QUALITATIVE DISCLOSURES ABOUT MARKET RISK</b></p>"
        "<p>Rates move.</p></body></html>"
    )
    sections = split_sections(html_blocks(html).blocks, "10-K")
    assert [(s.code, s.title, s.text) for s in sections] == [
        ("1", "Business and Properties", "We make things."),
        ("1A", "Risk Factors", "Risks abound."),
        ("7A", "QUANTITATIVE AND QUALITATIVE DISCLOSURES ABOUT MARKET RISK", "Rates move."),
    ]


def _simple_toc(codes: list[str]) -> str:
    rows = "".join(
        f'<tr><td>Item {c}.</td><td><a href="#{c}">{_K_TITLES[c]}</a></td><td>{n}</td></tr>'
        for n, c in enumerate(codes, 3)
    )
    return f"<table>{rows}</table>"


def test_body_headings_without_item_labels_fall_back_to_titles() -> None:
    codes = ["1", "1A", "2", "3", "7", "8"]
    body = "".join(
        f"<p><b>{_K_TITLES[c].upper()}</b></p><p>Text of {c}. More words here.</p>" for c in codes
    )
    html = f"<html><body><p>FORM 10-K</p>{_simple_toc(codes)}{body}</body></html>"
    sections = split_sections(html_blocks(html).blocks, "10-K")
    assert [(s.code, s.text) for s in sections] == [
        (c, f"Text of {c}. More words here.") for c in codes
    ]


def test_running_page_headers_do_not_move_the_section_start() -> None:
    codes = ["1", "1A", "7", "8"]
    body = []
    for c in codes:
        body.append(f"<p><b>Item {c}. {_K_TITLES[c]}</b></p><p>Start of {c}.</p>")
        for page in range(3):  # the same heading on top of each following page
            body.append(f"<p>{'x ' * 300}</p><p><b>Item {c}. {_K_TITLES[c]}</b></p>")
            body.append(f"<p>Page {page} of {c}.</p>")
    html = f"<html><body>{_simple_toc(codes)}{''.join(body)}</body></html>"
    sections = split_sections(html_blocks(html).blocks, "10-K")
    assert [s.code for s in sections] == codes
    for s in sections:
        assert s.text.startswith(f"Start of {s.code}.") and f"Page 2 of {s.code}." in s.text


def test_body_headings_that_link_back_to_the_toc() -> None:
    codes = ["1", "1A", "1B", "2", "7", "7A", "8", "9A"]
    body = "".join(
        f'<p><a href="#toc"><b>Item {c}. {_K_TITLES[c]}</b></a></p><p>Body {c}. {"w " * 80}</p>'
        for c in codes
    )
    html = f"<html><body>{_simple_toc(codes)}{body}</body></html>"
    sections = split_sections(html_blocks(html).blocks, "10-K")
    assert [s.code for s in sections] == codes
    assert all(s.text.startswith(f"Body {s.code}.") for s in sections)


# ----- metamorphic tests: real filings, transformed the way other filers differ ------------

_MODERN = [
    "10-K_2024-11-01_0000320193-24-000123.htm",
    "10-K_2025-02-26_0001045810-25-000023.htm",
    "10-K_2025-01-30_0001628280-25-003063.htm",
    "10-Q_2025-08-27_0001045810-25-000209.htm",
]


def _html(name: str) -> str:
    path = next(p for p in shared_filings() if key(p) == name)
    return read(path).decode()


def _split(html: str, name: str) -> dict[str, int]:
    form = name.split("_")[0]
    return {s.code: s.char_count for s in split_sections(html_blocks(html).blocks, form)}


@pytest.mark.parametrize("name", _MODERN)
def test_without_a_table_of_contents(name: str) -> None:
    import lxml.html

    root = lxml.html.document_fromstring(_html(name).split("?>", 1)[1])
    for table in list(root.iter("table")):
        if len(re.findall(r"Item\s*\d", table.text_content(), re.I)) >= 5:
            table.drop_tree()
    after = _split(lxml.html.tostring(root, encoding="unicode"), name)
    assert after == sizes(name)


@pytest.mark.parametrize("name", _MODERN)
def test_without_links_or_styles(name: str) -> None:
    html = re.sub(r"<a\b[^>]*>|</a>", "", _html(name))
    html = re.sub(r'\sstyle="[^"]*"', "", html)  # no bold anywhere, no hidden blocks
    got = _split(html, name)
    assert list(got) == list(sizes(name))
    for code, size in sizes(name).items():
        # The visible ix:header facts now show up before Item 1; nothing else moves.
        assert abs(got[code] - size) <= max(50, size // 50), code


@pytest.mark.parametrize("name", _MODERN[:3])
def test_body_headings_without_item_numbers(name: str) -> None:
    # "Item 1A.    Risk Factors" in the body becomes "Risk Factors"; the TOC keeps its numbers.
    html = re.sub(
        r"(font-weight:700[^>]*>)(?:ITEM|Item)(?:&#160;|\s)*\d{1,2}[A-C]?\.(?:&#160;|\s)+([^<]{3,})<",
        r"\1\2<",
        _html(name),
    )
    got = _split(html, name)
    expected = [c for c in sizes(name) if c != "6"]  # "[Reserved]" has no title to find
    assert [c for c in got if c in expected] == expected
    assert got["1A"] >= sizes(name)["1A"] * 0.95 and got["7"] >= sizes(name)["7"] * 0.95


@pytest.mark.parametrize("name", _MODERN)
def test_tag_stripped_copy_splits_the_same(name: str) -> None:
    # What BeautifulSoup.get_text("\n") makes of the document: one text node per line.
    import lxml.html

    root = lxml.html.document_fromstring(_html(name).split("?>", 1)[1])
    text = "\n".join(t.strip() for t in root.itertext() if t.strip())
    got = {s.code: s.char_count for s in split_sections(plain_blocks(text), name[:4], plain=True)}
    assert list(got) == list(sizes(name))
    for code in ("1", "1A", "7", "part1_item2", "part2_item1a"):
        if code in got:
            assert abs(got[code] - sizes(name)[code]) < 0.15 * sizes(name)[code], code
