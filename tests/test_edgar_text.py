"""Visible text extraction and the SGML container, on small cases and the real files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from appliance.edgar.blocks import html_blocks, plain_blocks
from appliance.edgar.errors import InvalidFiling
from appliance.edgar.filing import parse_filing
from appliance.edgar.layout import hints_for
from appliance.edgar.sgml import looks_like_submission, parse_submission
from tests.support.edgar_data import FILINGS, read


def texts(html: str) -> list[str]:
    return [b.text for b in html_blocks(html).blocks]


def test_hidden_content_scripts_and_styles_are_dropped() -> None:
    html = (
        "<?xml version='1.0' encoding='ASCII'?><html><head><title>T</title>"
        "<style>p{color:red}</style></head><body>"
        '<div style="display: none"><ix:header><ix:hidden>'
        '<ix:nonNumeric name="dei:EntityCentralIndexKey">0000320193</ix:nonNumeric>'
        "</ix:hidden></ix:header></div>"
        "<script>var x = 1;</script><p>Visible&#160;text</p>"
        '<span style="DISPLAY:NONE">secret</span></body></html>'
    )
    parsed = html_blocks(html)
    assert [b.text for b in parsed.blocks] == ["Visible text"]
    assert parsed.dei.get("dei:EntityCentralIndexKey") == "0000320193"


def test_upper_case_tags_bold_and_cp1252_entities() -> None:
    blocks = html_blocks(
        "<HTML><BODY><P><B>ITEM&nbsp;1A.</B> <FONT>Risk&#146;s</FONT></P></BODY></HTML>"
    ).blocks
    assert [b.text for b in blocks] == ["ITEM 1A. Risk\u2019s"]
    assert blocks[0].emphasis == len("ITEM 1A.")


def test_tables_become_rows_with_cells_and_glued_currency() -> None:
    html = (
        "<table><tr><td>Net sales</td><td>$</td><td>391,035</td><td></td>"
        "<td>(</td><td>12</td><td>)%</td></tr>"
        '<tr><td><a href="#a">Item 1.</a></td><td><a href="#a">Business</a></td><td>1</td></tr>'
        "</table>"
    )
    rows = html_blocks(html).blocks
    assert rows[0].text == "Net sales | $391,035 | (12)%"
    assert rows[0].row and not rows[0].page_ref
    assert rows[1].text == "Item 1. | Business | 1" and rows[1].page_ref and rows[1].linked
    assert rows[0].table == rows[1].table == 1


def test_preformatted_text_keeps_its_lines() -> None:
    html = "<body><PRE>\nITEM 1.  BUSINESS\n\n     The Company\nmakes things.\n</PRE></body>"
    blocks = html_blocks(html).blocks
    assert [b.text for b in blocks] == ["ITEM 1. BUSINESS", "The Company", "makes things."]
    assert [b.new_paragraph for b in blocks] == [True, True, False]


def test_bullet_cells_lead_their_text() -> None:
    rows = html_blocks("<table><tr><td>\u2022</td><td>Supply risk</td></tr></table>").blocks
    assert rows[0].text == "\u2022 Supply risk"


def test_a_layout_table_holding_paragraphs_is_walked_as_blocks() -> None:
    long = "word " * 400
    blocks = html_blocks(f"<table><tr><td><p>Intro</p><p>{long}</p></td></tr></table>").blocks
    assert blocks[0].text == "Intro" and not blocks[0].row


def test_plain_text_marks_wrapped_lines() -> None:
    blocks = plain_blocks("First line of a paragraph that\nItem 7 of this report.\n\nITEM 2.")
    assert [b.new_paragraph for b in blocks] == [True, False, True]


def test_full_submission_with_pem_envelope() -> None:
    sub = parse_submission(read(FILINGS / "AAPL" / "10-Q_2000-05-11_0000912057-00-023442.txt.gz")
                           .decode())  # fmt: skip
    assert sub.header.accession == "0000912057-00-023442"
    assert sub.header.form == "10-Q" and sub.header.cik == "0000320193"
    assert [d.type for d in sub.documents] == ["10-Q", "EX-3.2", "EX-10.A49", "EX-10.A51", "EX-27"]
    main = sub.main_document()
    assert main is not None and main.sequence == 1 and main.complete


def test_modern_full_submission_picks_the_main_document() -> None:
    text = read(FILINGS / "AAPL" / "8-K_2019-11-15_0001193125-19-292676.txt.gz").decode()
    sub = parse_submission(text)
    assert len(sub.documents) == 19
    assert str(sub.header.acceptance_datetime) == "2019-11-15 06:02:24"
    main = sub.main_document()
    assert main is not None and main.filename == "d828969d8k.htm"


def test_tag_stripped_submissions_recover_their_documents() -> None:
    text = read(FILINGS / "AAPL" / "10-K_2008-11-05_0001193125-08-224958.tagstripped.txt.gz")
    sub = parse_submission(text.decode())
    assert sub.tag_stripped
    assert [d.type for d in sub.documents][:3] == ["10-K", "EX-21", "EX-23.1"]
    assert sub.documents[0].filename == "d10k.htm"
    assert str(sub.header.acceptance_datetime) == "2008-11-05 06:16:23"


def test_a_document_still_in_its_sgml_wrapper() -> None:
    text = read(FILINGS / "CRR" / "10-K_2018-03-08_0001564590-18-004771.htm.gz").decode()
    assert looks_like_submission(text)
    doc = parse_submission(text).main_document()
    assert doc is not None and doc.filename == "crr-10k_20171231.htm"
    assert doc.text.lstrip().startswith("<!DOCTYPE")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"\x00\x01\x02binary" * 100, "binary"),
        (gzip.compress(b"<html><body>" + b"x" * 5000)[:-20], "gzip"),
        (b"<?xml version='1.0'?><html><body><p>" + b"Item 1. Business " * 500, "truncated HTML"),
        (
            b"<SEC-DOCUMENT><SEC-HEADER>ACCESSION NUMBER: 0000320193-24-000001\n</SEC-HEADER>"
            b"<DOCUMENT>\n<TYPE>10-K\n<TEXT>\n<html><body>cut",
            "truncated",
        ),
        (b"<html><body><p>tiny</p></body></html>", "no readable text"),
    ],
)
def test_broken_inputs_raise_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidFiling) as caught:
        parse_filing(data, hints_for(Path("AAPL/10-K_2024-01-01_0000320193-24-000001.htm")))
    assert reason in caught.value.message
