"""The chunker on real filing sections, counted with the real tokenizer."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.db.connection import connect
from appliance.db.queries import filings as fq
from appliance.db.queries import rag as rq
from appliance.edgar.vocabulary import item_label
from appliance.rag.chunking import ChunkPolicy, chunk_text, split_units
from appliance.rag.index import embed_header_for, header_for
from tests.support.rag import AAPL_10K_2025


@pytest.fixture(scope="module")
def sections(rag_template: Any) -> dict[str, str]:
    conn = connect(rag_template / "appliance.sqlite3")
    try:
        out = {}
        for info in fq.filing_sections(conn, AAPL_10K_2025):
            row = fq.section(conn, AAPL_10K_2025, info.item)
            assert row is not None
            out[info.item] = row.text
        return out
    finally:
        conn.close()


def _count(embedder: Any) -> Any:
    specials = embedder.count_tokens("")
    return lambda text: embedder.count_tokens(text) - specials


@pytest.mark.parametrize("target,overlap", [(200, 40), (128, 32), (64, 0)])
def test_every_chunk_fits_the_embedder_whole(
    embedder: Any, sections: dict[str, str], target: int, overlap: int
) -> None:
    policy = ChunkPolicy(target=target, overlap=overlap)
    count = _count(embedder)
    header = (
        "Apple Inc. (AAPL) 10-K for fiscal year 2025 (ended 2025-09-27). Item 1A. Risk Factors."
    )
    header_tokens = embedder.count_tokens(header)
    for item in ("1", "1A", "7", "8"):
        text = sections[item]
        chunks = chunk_text(text, count, policy, header_tokens=header_tokens)
        assert len(chunks) > 3
        for c in chunks:
            # A table's row group carries the caption and column headers before its rows.
            if text[c.start : c.end] != c.text:
                assert " | " in c.text and c.text.endswith(text[c.start : c.end])
            # What the embedder reads: header + chunk, special tokens included.
            assert embedder.count_tokens(f"{header}\n{c.text}") <= policy.max_tokens
            assert c.tokens == count(c.text)
        # The sizes are near the target (not 1,800-character chunks cut at 256 tokens).
        sizes = sorted(c.tokens for c in chunks)
        assert sizes[len(sizes) // 2] <= target + overlap


def test_chunks_cover_the_section_in_order_and_break_at_sentences(
    embedder: Any, sections: dict[str, str]
) -> None:
    text = sections["1"]
    policy = ChunkPolicy(target=128, overlap=32)
    chunks = chunk_text(text, _count(embedder), policy, header_tokens=40)
    starts = {s for s, _, _ in split_units(text)}
    covered = [False] * len(text)
    prev_start = -1
    for c in chunks:
        assert c.start > prev_start  # progress, in document order
        prev_start = c.start
        assert c.start in starts or text[c.start - 1].isspace()
        for i in range(c.start, c.end):
            covered[i] = True
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert missing == []
    # Consecutive chunks overlap by whole sentences, at most the overlap budget.
    for a, b in itertools.pairwise(chunks):
        if b.start < a.end:
            shared = text[b.start : a.end]
            assert _count(embedder)(shared) <= policy.overlap


def test_sentence_splitter_keeps_abbreviations_and_joins_hard_wrapped_lines() -> None:
    text = (
        "Apple Inc. designs products in the U.S. and sells them worldwide. Net sales rose\n"
        "by 5% over the prior year.\nItem 2. Properties\nThe Company's headquarters are in"
        " Cupertino, California."
    )
    units = [text[s:e].strip() for s, e, _ in split_units(text)]
    assert units == [
        "Apple Inc. designs products in the U.S. and sells them worldwide.",
        "Net sales rose\nby 5% over the prior year.",
        "Item 2. Properties",
        "The Company's headquarters are in Cupertino, California.",
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(categories=["L", "N", "P", "Zs"]), max_size=300),
        max_size=12,
    ),
    st.integers(16, 120),
)
def test_no_text_is_lost_and_no_chunk_exceeds_the_budget(parts: list[str], target: int) -> None:
    text = "\n".join(parts)
    count = lambda s: len(s.split())  # noqa: E731 - a word counter stands in for WordPiece
    policy = ChunkPolicy(max_tokens=target + 20, target=target, overlap=8)
    chunks = chunk_text(text, count, policy, header_tokens=20)
    joined = " ".join(c.text for c in chunks)
    for word in text.split():
        assert word in joined
    for c in chunks:
        assert c.tokens <= target
        assert text[c.start : c.end] == c.text


def test_header_names_company_form_period_and_item() -> None:
    todo = rq.SectionTodo(
        1,
        "0000320193-25-000057",
        "part2_item1a",
        "Risk Factors",
        320193,
        "AAPL",
        "Apple Inc.",
        "10-Q",
        "2025-05-02",
        "2025-03-29",
        100,
    )
    assert embed_header_for(todo) == "Apple Inc. (AAPL) 10-Q. Risk Factors."
    header = header_for(todo)
    assert header == (
        "Apple Inc. (AAPL) 10-Q for the quarter ended 2025-03-29, filed 2025-05-02."
        " Part II, Item 1A. Risk Factors."
    )
    assert item_label("7A") == "Item 7A"
    assert re.fullmatch(r"Document", item_label("document"))


def test_embedded_header_names_the_item_by_its_short_topic() -> None:
    """The embedder reads what an Item is about in a few words, whatever the filing's own
    spelling of its long title; a section outside the Item catalogs keeps its title's start."""

    def todo(item: str, title: str, form: str) -> rq.SectionTodo:
        return rq.SectionTodo(
            1, "0001318605-25-000014", item, title, 1318605, "TSLA", "Tesla, Inc.", form,
            "2025-01-29", "2024-12-31", 100,
        )  # fmt: skip

    long_title = "MANAGEMENT\u2019S DISCUSSION AND ANALYSIS OF FINANCIAL CONDITION AND RESULTS"
    k = embed_header_for(todo("7", long_title, "10-K"))
    assert k == "Tesla, Inc. (TSLA) 10-K. Management's Discussion and Analysis."
    q = embed_header_for(todo("part1_item2", long_title, "10-Q"))
    assert q == "Tesla, Inc. (TSLA) 10-Q. Management's Discussion and Analysis."
    assert embed_header_for(todo("1A", "RISK FACTORS", "10-K405")).endswith(" Risk Factors.")
    press = todo("document", "Tesla Releases Fourth Quarter and Full Year 2024 Results", "8-K")
    assert embed_header_for(press) == (
        "Tesla, Inc. (TSLA) 8-K. Tesla Releases Fourth Quarter and Full."
    )
    assert embed_header_for(todo("document", "", "8-K")).endswith(" 8-K. Document.")
    # The stored, keyword-indexed header keeps the Item and the filing's own title.
    assert "Item 7. MANAGEMENT\u2019S DISCUSSION" in header_for(todo("7", long_title, "10-K"))


def _table_section() -> str:
    rows = "\n".join(
        f"Product line {i} net sales | ${1000 + i:,} | {i % 9}% | ${900 + i:,}" for i in range(40)
    )
    return (
        "Net sales grew in every segment during the year.\n"
        "The following table shows net sales by category for 2025 and 2024 (in millions):\n"
        f"2025 | Change | 2024\n{rows}\n"
        "Net sales of every product line increased compared to the prior year."
    )


def test_tables_are_chunked_by_row_groups_carrying_caption_and_column_headers(
    embedder: Any,
) -> None:
    text = _table_section()
    count = _count(embedder)
    policy = ChunkPolicy()
    chunks = chunk_text(text, count, policy, header_tokens=40)
    caption = "The following table shows net sales by category for 2025 and 2024 (in millions):"
    table = [c for c in chunks if "Product line" in c.text]
    assert len(table) > 3  # 40 rows do not fit one passage
    seen: list[str] = []
    for c in table:
        lines = c.text.split("\n")
        assert lines[0] == caption and lines[1] == "2025 | Change | 2024"
        assert c.text.endswith(text[c.start : c.end])  # the rows, verbatim, after the context
        assert all(line.count("|") == 3 for line in lines[2:])  # whole rows only
        assert c.tokens <= policy.max_tokens - 40
        seen += lines[2:]
    # Every row exactly once (row groups do not overlap), in order.
    assert seen == [ln for ln in text.split("\n") if ln.startswith("Product line")]
    # The prose around the table is chunked as prose, the caption included.
    prose = [c for c in chunks if "Product line" not in c.text]
    assert any(caption in c.text for c in prose)
    assert any("increased compared to the prior year" in c.text for c in prose)


def test_a_short_run_of_pipes_is_prose() -> None:
    text = "Segment | Total\nAmericas | 10\nOther text follows here and ends the section."
    chunks = chunk_text(text, lambda s: len(s.split()), ChunkPolicy(table_rows=3))
    assert len(chunks) == 1 and chunks[0].text == text
