"""The visible text of a filing document as a flat list of blocks.

A block is one paragraph-like unit: an HTML block element, a table row (cells joined by
``" | "``), or a line of plain text. The section splitter works on blocks rather than on raw
text because a heading is a property of a block (its own line, set in bold, not a link in the
table of contents), and those hints are lost once the text is flattened.

Only what a reader sees is kept: ``<head>``, scripts, styles, the inline-XBRL ``ix:header`` and
anything styled ``display:none`` are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import lxml.etree
import lxml.html

__all__ = ["Block", "DeiFacts", "HtmlText", "html_blocks", "normalize_text", "plain_blocks"]


@dataclass(frozen=True, slots=True)
class Block:
    """One paragraph, table row or line of visible text."""

    text: str
    # Length of the leading run of `text` set in bold or underline: a heading is emphasized
    # from its first character, an in-text reference is not.
    emphasis: int = 0
    # Most of the text sits inside a link to an anchor in the same document (a TOC entry).
    linked: bool = False
    # A table row; `page_ref` marks a row whose last cell is a bare page number (a TOC row).
    row: bool = False
    page_ref: bool = False
    # Ordinal (from 1) of the data table a row belongs to; 0 outside tables.
    table: int = 0
    # Plain text only: the line starts a paragraph (blank line or finished sentence before it).
    # Always true for HTML blocks.
    new_paragraph: bool = True


@dataclass(slots=True)
class DeiFacts:
    """Cover-page facts tagged with the ``dei:`` inline-XBRL vocabulary, when present."""

    values: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.values.get(name.lower())


@dataclass(frozen=True, slots=True)
class HtmlText:
    blocks: list[Block]
    dei: DeiFacts
    # The parsed document and, for each inline-XBRL element met in the visible text (and each
    # element showing a hidden fact through ``-sec-ix-hidden``), the index of the block it sits
    # in: the XBRL extractor reads the same tree instead of parsing the file a second time,
    # and places every fact in its Item.
    root: lxml.etree._Element | None = None
    anchors: dict[lxml.etree._Element, int] = field(default_factory=dict)


# Windows-1252 code points that HTML entities like &#146; and mis-decoded bytes turn into C1
# control characters; old EDGAR filings are full of them.
_C1_TO_CP1252 = {i: bytes([i]).decode("cp1252", errors="ignore") or " " for i in range(0x80, 0xA0)}
_TRANSLATE = {
    **_C1_TO_CP1252,
    0xA0: " ",  # no-break space
    0x200B: None,  # zero-width space
    0xAD: None,  # soft hyphen
    0xFEFF: None,  # byte-order mark
}
_SPACES = re.compile(r"\s+")

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "br", "caption", "center", "dd",
        "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
        "h3", "h4", "h5", "h6", "header", "hr", "html", "li", "main", "nav", "ol", "p", "pre",
        "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_SKIP_TAGS = frozenset(
    {"head", "script", "style", "noscript", "template", "title", "ix:header", "object", "xml"}
)
_HIDDEN = re.compile(r"display\s*:\s*none", re.IGNORECASE)
_SHOWS_HIDDEN_FACT = "-sec-ix-hidden"
_BOLD = re.compile(
    r"font-weight\s*:\s*(?:bold|bolder|[6-9]00)|font\s*:[^;]*\bbold\b|"
    r"text-decoration\s*:[^;]*underline",
    re.IGNORECASE,
)
_EMPHASIS_TAGS = frozenset({"b", "strong", "u"})
_PAGE_NUMBER = re.compile(r"^(?:[A-Z]-)?\d{1,3}(?:\s*-\s*\d{1,3})?$|^[ivxlc]{1,6}$", re.IGNORECASE)
# A table cell this long is a layout container, not data: walk it as ordinary blocks.
_LAYOUT_CELL_CHARS = 1500
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_OPEN_PREFIX = frozenset({"$", "(", "$(", "\u20ac", "\u00a3"})
# A list laid out as a table: the bullet cell belongs in front of its text.
_BULLETS = frozenset({"\u2022", "\u25cf", "\u25e6", "\u25aa", "\u25a0", "\u00b7", "o"})
_CLOSE_SUFFIX = frozenset({")", "%", ")%", "%)", "pts", "bps"})


def normalize_text(text: str) -> str:
    """Map C1 controls to their Windows-1252 characters and drop invisible characters."""
    return text.translate(_TRANSLATE)


class _Line:
    """Accumulates the inline text of one block and its emphasis/link statistics."""

    __slots__ = ("_emph_open", "chars", "emphasis", "linked_chars", "parts", "visible_chars")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.chars = 0
        self.emphasis = 0
        self._emph_open = True
        self.visible_chars = 0
        self.linked_chars = 0

    def add(self, text: str, emphasized: bool, linked: bool) -> None:
        text = _SPACES.sub(" ", normalize_text(text))
        if not text:
            return
        if text.startswith(" ") and (not self.parts or self.parts[-1].endswith(" ")):
            text = text[1:]
            if not text:
                return
        self.parts.append(text)
        self.chars += len(text)
        visible = len(text.replace(" ", ""))
        if visible:
            self.visible_chars += visible
            if linked:
                self.linked_chars += visible
            if self._emph_open and emphasized:
                self.emphasis = self.chars
            elif not emphasized:
                self._emph_open = False

    def take(self) -> tuple[str, int, bool]:
        text = "".join(self.parts)
        stripped = text.lstrip(" ")
        emphasis = max(0, self.emphasis - (len(text) - len(stripped)))
        stripped = stripped.rstrip(" ")
        linked = self.visible_chars > 0 and self.linked_chars * 2 >= self.visible_chars
        self.parts = []
        self.chars = 0
        self.emphasis = 0
        self._emph_open = True
        self.visible_chars = 0
        self.linked_chars = 0
        return stripped, min(emphasis, len(stripped)), linked


def _tag(el: lxml.etree._Element) -> str | None:
    tag = el.tag
    return tag.lower() if isinstance(tag, str) else None


def _emphasizes(el: lxml.etree._Element, tag: str) -> bool:
    if tag in _EMPHASIS_TAGS:
        return True
    style = el.get("style")
    return bool(style and _BOLD.search(style))


def _is_hidden(el: lxml.etree._Element) -> bool:
    style = el.get("style")
    return bool(style and _HIDDEN.search(style))


class _Walker:
    """Turns an lxml tree into blocks; one instance per document."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.dei = DeiFacts()
        self.tables = 0
        self._line = _Line()
        self.anchors: dict[lxml.etree._Element, int] = {}

    def flush(self) -> None:
        text, emphasis, linked = self._line.take()
        if text:
            self.blocks.append(Block(text=text, emphasis=emphasis, linked=linked))

    def walk(self, el: lxml.etree._Element, emphasized: bool, linked: bool) -> None:
        tag = _tag(el)
        if tag is None:  # comment or processing instruction: only its tail is visible
            return
        if tag in _SKIP_TAGS:
            if tag == "ix:header":
                self._collect_dei(el)
            return
        if _is_hidden(el):
            self._collect_dei(el)  # the hidden block holds the ix:header with the cover facts
            return
        if tag.startswith("ix:non") and (name := el.get("name")):
            self._record_dei(name, el)
        if tag.startswith("ix:") or _SHOWS_HIDDEN_FACT in (el.get("style") or ""):
            # The block this element's text lands in: the line being built is flushed next.
            self.anchors[el] = len(self.blocks)
        if tag == "table":
            self.flush()
            self._table(el, emphasized, linked)
            self.flush()
            return
        if tag in ("pre", "xmp", "plaintext"):
            # Preformatted text (1990s filings wrap whole documents in <PRE>): its lines are
            # the blocks, as in a plain-text filing.
            self.flush()
            self.blocks.extend(plain_blocks("".join(str(t) for t in el.itertext())))
            return
        block = tag in _BLOCK_TAGS
        if block:
            self.flush()
        emphasized = emphasized or _emphasizes(el, tag)
        if tag == "a" and (href := el.get("href")) is not None:
            linked = linked or href.startswith("#")
        if el.text:
            self._line.add(el.text, emphasized, linked)
        for child in el:
            self.walk(child, emphasized, linked)
            if child.tail:
                self._line.add(child.tail, emphasized, linked)
        if block:
            self.flush()

    def _collect_dei(self, el: lxml.etree._Element) -> None:
        for fact in el.iter():
            tag = _tag(fact)
            if tag is not None and tag.startswith("ix:non") and (name := fact.get("name")):
                self._record_dei(name, fact)

    def _record_dei(self, name: str, el: lxml.etree._Element) -> None:
        name = name.lower()
        if name.startswith("dei:") and name not in self.dei.values:
            value = _SPACES.sub(" ", normalize_text("".join(str(t) for t in el.itertext()))).strip()
            if value:
                self.dei.values[name] = value

    def _table(self, table: lxml.etree._Element, emphasized: bool, linked: bool) -> None:
        rows = list(_own_rows(table))
        cells_by_row = [[c for c in row if _tag(c) in ("td", "th")] for row in rows]
        layout = any(
            sum(len(t) for t in cell.itertext()) > _LAYOUT_CELL_CHARS or _has_table(cell)
            for cells in cells_by_row
            for cell in cells
        )
        if layout:
            # A layout table: every cell is a container of ordinary blocks.
            for cells in cells_by_row:
                for cell in cells:
                    self.walk(cell, emphasized, linked)
                    self.flush()
            return
        self.tables += 1
        for cells in cells_by_row:
            self._row(cells, emphasized, linked)

    def _row(self, cells: list[lxml.etree._Element], emphasized: bool, linked: bool) -> None:
        texts: list[tuple[str, bool, bool]] = []  # (text, fully emphasized, linked)
        in_row: list[lxml.etree._Element] = []
        for cell in cells:
            if _is_hidden(cell):
                continue
            inner = _Walker()
            inner.dei = self.dei
            inner.walk(cell, emphasized, linked)
            inner.flush()
            in_row.extend(inner.anchors)
            if not inner.blocks:
                continue
            text = " ".join(b.text for b in inner.blocks)
            full = all(b.emphasis >= len(b.text) for b in inner.blocks)
            texts.append((text, full, any(b.linked for b in inner.blocks)))
        merged = _merge_cells(texts)
        if not merged:
            return
        joined = " | ".join(t for t, _, _ in merged)
        emphasis = 0
        position = 0
        for i, (t, full, _) in enumerate(merged):
            position += len(t) + (3 if i else 0)
            if not full:
                break
            emphasis = position
        for el in in_row:
            self.anchors[el] = len(self.blocks)  # the row's own block, appended below
        page_ref = len(merged) >= 2 and bool(_PAGE_NUMBER.match(merged[-1][0]))
        linked_chars = sum(len(t) for t, _, lk in merged if lk)
        self.blocks.append(
            Block(
                text=joined,
                emphasis=emphasis,
                linked=linked_chars * 2 >= len(joined),
                row=True,
                page_ref=page_ref,
                table=self.tables,
            )
        )


def _merge_cells(cells: list[tuple[str, bool, bool]]) -> list[tuple[str, bool, bool]]:
    """Glue currency signs and closing parentheses/percent signs to their numbers."""
    merged: list[tuple[str, bool, bool]] = []
    carry: str = ""
    for text, full, linked in cells:
        if text in _OPEN_PREFIX:
            carry += text
            continue
        if text in _BULLETS and not carry:
            carry = text + " "
            continue
        if merged and not carry and text in _CLOSE_SUFFIX:
            prev, pfull, plinked = merged[-1]
            merged[-1] = (prev + text, pfull, plinked)
            continue
        merged.append((carry + text if carry else text, full, linked))
        carry = ""
    if carry:
        merged.append((carry, False, False))
    return merged


def _own_rows(table: lxml.etree._Element) -> Iterator[lxml.etree._Element]:
    """The rows of this table, not of tables nested in its cells."""
    for row in table.iter("tr", "TR"):
        owner = row.getparent()
        while owner is not None and _tag(owner) != "table":
            owner = owner.getparent()
        if owner is table:
            yield row


def _has_table(cell: lxml.etree._Element) -> bool:
    return any(True for _ in cell.iter("table", "TABLE"))


def html_blocks(markup: str) -> HtmlText:
    """Parse an HTML or XHTML document and return its visible text as blocks.

    Handles upper-case tags, an ``<?xml`` declaration, inline-XBRL hidden headers and
    ``display:none`` content. Never raises on malformed markup (lxml recovers); an empty or
    text-free document yields no blocks.
    """
    markup = _XML_DECLARATION.sub("", markup, count=1)
    if not markup.strip():
        return HtmlText(blocks=[], dei=DeiFacts())
    parser = lxml.html.HTMLParser(recover=True, remove_comments=True, huge_tree=True)
    try:
        root = lxml.html.document_fromstring(markup, parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return HtmlText(blocks=[], dei=DeiFacts())
    walker = _Walker()
    walker.walk(root, False, False)
    walker.flush()
    return HtmlText(blocks=walker.blocks, dei=walker.dei, root=root, anchors=walker.anchors)


_SGML_TAG_LINE = re.compile(r"</?(?:PAGE|TABLE|CAPTION|S|C|FN|F\d+|R\d+)>", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.:;!?)\]\"”]$")


def plain_blocks(text: str) -> list[Block]:
    """Split plain text (old EDGAR .txt documents, tag-stripped text) into one block per line.

    Whitespace runs collapse to one space. ``new_paragraph`` records whether a line starts a
    paragraph, so a wrapped line that happens to begin with "Item 7" is not taken for a heading.
    """
    blocks: list[Block] = []
    previous = ""
    blank_before = True
    for raw in normalize_text(text).splitlines():
        line = _SPACES.sub(" ", _SGML_TAG_LINE.sub(" ", raw)).strip()
        if not line:
            blank_before = True
            continue
        starts = blank_before or not previous or bool(_SENTENCE_END.search(previous))
        blocks.append(Block(text=line, new_paragraph=starts))
        previous = line
        blank_before = False
    return blocks
