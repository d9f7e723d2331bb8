"""Split a 10-K or 10-Q into its Items.

Every modern filing names each Item at least twice: once in the table of contents and once
as the heading in the body, and the text mentions Items in passing ("see Part II, Item 7").
Only the body heading starts a section. The splitter therefore works in three steps:

1. *Candidates*: blocks that start like an Item heading ("Item 1A. Risk Factors",
   "PART II - ITEM 5", a bare "ITEM 7" followed by its title on the next line). Text that
   continues in lower case ("Item 7 of this report") or with a comma is a reference, not a
   heading. Each candidate gets a weight from its look: bold or upper case, alone on its line,
   a title resembling the standard one; a link, a trailing page number or a TOC-style row
   marks it as a table-of-contents entry and weighs it down.
2. *Chain*: the body is the best chain of candidates in catalog order, chosen by dynamic
   programming over (candidate weight + a bonus growing with the length of the text each
   candidate would own). The TOC chain loses because its entries are weak and own almost no
   text; a stray in-text heading loses because it breaks the order. For a 10-Q an item number
   can belong to Part I or Part II; both readings are tried and the nearest "PART II" heading
   and the title decide.
3. *Stragglers*: an Item the chain skipped because the filer printed it out of order is
   added back when a strong (non-TOC) heading for it exists after the body starts.

Each section runs from its heading to the next chosen heading. Page furniture (running
footers, bare page numbers, "Table of Contents" back-links) is left out of section text.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from appliance.edgar.blocks import Block
from appliance.edgar.items import Item, ItemCatalog, catalog_for

__all__ = ["Section", "split_sections"]


@dataclass(frozen=True, slots=True)
class Section:
    code: str
    title: str
    ordinal: int  # 0-based position in the document
    text: str
    # The blocks the section owns, as [start, stop) ranges (its heading included): where an
    # inline-XBRL fact's block falls tells which Item the fact is tagged in.
    spans: tuple[tuple[int, int], ...] = ()

    @property
    def char_count(self) -> int:
        return len(self.text)


_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_HEADING = re.compile(
    r"""^[\s"'\u201c\u2018(\[]*
    (?:part\s*(?P<part>iv|iii|ii|i|[1-4])\b[\s.,:;\-\u2013\u2014|]*)?
    items?\s*(?P<num>\d{1,2})(?:\s?(?P<letter>[a-d])(?![a-z]))?(?:\s?\(T\))?(?!\.\d)
    (?P<more>(?:\s*(?:,|and|&|through|-|\u2013)\s*\d{1,2}[a-d]?(?![a-z\d]))*)
    (?P<after>.*)$""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
_PART = re.compile(
    r"^[\s\"'\u201c]*part\s*(?P<part>iv|iii|ii|i|[1-4])\b(?P<after>[\s.:\-\u2013\u2014|]*(?P<rest>.*))$",
    re.IGNORECASE | re.DOTALL,
)
_SEPARATORS = " .:;-\u2013\u2014|)\t"
_TRAILING_PAGE = re.compile(
    r"(?:[\s.|\u00b7\u2026_-]*\b(?:page\s*)?(?:[A-Z]-)?\d{1,3})$|[.\u00b7\u2026_]{3,}\s*$"
)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset({"and", "of", "the", "for", "to", "in", "on", "with", "a", "an", "its", "s"})
_MAX_TITLE = 200  # longer "headings" are paragraphs
_DENSE_GAP = 400  # more text than this between two headings is not a table of contents
_DENSE_RUN = 4
_CODE_PREFIX = re.compile(r"^\s*\d{1,2}[A-D]?[.:)\s]+", re.IGNORECASE)
_SUB_ITEM = re.compile(r"^\s*\(\s*(?:[a-z]|\d{1,2}|[ivx]{1,4})\s*\)", re.IGNORECASE)
_CONTINUED = re.compile(r"\bcontinued\b", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"^(?:page\s*)?(?:[A-Z]-)?\d{1,3}$|^[ivxlc]{1,6}$", re.IGNORECASE)
_TOC_BACKLINK = re.compile(
    r"^(?:back to |return to )?(?:table of contents|index|"
    r"index to (?:consolidated )?financial statements)$",
    re.IGNORECASE,
)
_FORM_FOOTER = re.compile(r"form\s+10-[kq]", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_POINTER_CHARS = 2000  # an Item 8 shorter than this refers to statements printed elsewhere
_FS_HEADING = re.compile(
    r"^(?:management[\u2019']s report on internal control|report of independent registered|"
    r"(?:index to )?consolidated (?:financial statements|balance sheets?)\b|"
    r"index to financial statements)",
    re.IGNORECASE,
)
_BACK_MATTER = re.compile(r"^(?:signatures?|exhibit index|index to exhibits)$", re.IGNORECASE)
_SIGNATURES = re.compile(r"^signatures?$", re.IGNORECASE)
_DATE_LIKE = re.compile(
    r"^(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _Heading:
    """A block that reads like an Item heading, before it is matched to catalog items."""

    block: int
    body_from: int  # first block of the section body
    number: str  # "1A", "7"
    explicit_part: int | None
    title: str
    inline_text: str  # heading block text that belongs to the body (run-in headings)
    emphasized: bool
    own_line: bool
    toc: bool  # ends with a page number (a table-of-contents entry)


@dataclass(frozen=True, slots=True)
class _Candidate:
    block: int
    body_from: int
    item: Item
    title: str
    inline_text: str
    weight: float
    toc: bool
    strong: bool


def _words(text: str) -> set[str]:
    # A crude plural fold ("Exhibit"/"Exhibits") is all the stemming titles need.
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in _STOP}


def _similarity(title: str, standard: str) -> float:
    """Share of the standard title's words present in the printed title (0..1)."""
    want = _words(standard)
    if not want or not title:
        return 0.0
    return len(want & _words(title)) / len(want)


def _clean_title(text: str) -> str:
    strip = _SEPARATORS.replace(")", "") + " "
    text = text.replace(" | ", " ").strip(strip)
    previous = None
    while previous != text:
        previous = text
        text = _TRAILING_PAGE.sub("", text).strip(strip)
    return text


def _starts_like_title(text: str) -> bool:
    """A heading's title starts upper case, with a quote or bracket, or is empty."""
    text = text.lstrip(_SEPARATORS + " ")
    return not text or not text[0].islower()


def _part_markers(blocks: list[Block]) -> list[int | None]:
    """For each block, the part number of the closest preceding "PART x" heading."""
    current: int | None = None
    marks: list[int | None] = []
    for block in blocks:
        m = _PART.match(block.text)
        if m and len(m.group("rest")) <= 100 and _starts_like_title(m.group("rest")):
            current = _ROMAN[m.group("part").lower()]
        marks.append(current)
    return marks


def _title_block(blocks: list[Block], i: int, standard: list[str]) -> bool:
    """Block i can carry the title of a bare "ITEM 7" heading printed just before it.

    It must read like a title: short, not another heading, and either resembling the
    standard title or set like one (no closing period, few words, capitalised or bold).
    """
    if i >= len(blocks):
        return False
    block = blocks[i]
    text = block.text
    if (
        len(text) > _MAX_TITLE
        or not _starts_like_title(text)
        or _HEADING.match(text)
        or _PART.match(text)
    ):
        return False
    if any(_similarity(text, title) >= 0.5 for title in standard):
        return True
    words = text.split()
    capitalised = sum(1 for w in words if w[:1].isupper() or not w[:1].isalpha())
    return (
        not text.rstrip().endswith(".")
        and len(words) <= 12
        and (block.emphasis >= len(text) or capitalised * 2 > len(words))
    )


def _headings(blocks: list[Block], catalog: ItemCatalog, plain: bool) -> list[_Heading]:
    found: list[_Heading] = []
    for i, block in enumerate(blocks):
        text = block.text
        m = _HEADING.match(text)
        if m is None:
            continue
        after = m.group("after")
        if after and after[0] not in _SEPARATORS:
            continue  # "Item 7, ..." or "Item 14(a)(1)": a reference or a sub-item
        body = after.lstrip(_SEPARATORS + " ").rstrip()
        if _SUB_ITEM.match(after):
            continue  # "Item 14 (a)(1)": a subdivision of an Item, not a new one
        if not _starts_like_title(body) or _CONTINUED.search(body[:_MAX_TITLE]):
            continue
        code_end = m.start("after")
        number = m.group("num").lstrip("0") + (m.group("letter") or "").upper()
        standard = [item.title for item in catalog.lookup(number, None)]
        emphasized = block.emphasis >= code_end - 1 or text[:code_end].isupper()
        inline_text = ""
        body_from = i + 1
        own_line = len(body) <= _MAX_TITLE
        run_in = code_end < block.emphasis < len(text) - 1 and not block.row
        if run_in:
            # "<b>Item 3. Legal Proceedings.</b> The Company is ...": the bold part is the
            # heading, the rest of the paragraph is body text.
            title = _clean_title(text[code_end : block.emphasis])
            inline_text = text[block.emphasis :].strip()
            own_line = True
        elif not own_line:
            # A long paragraph opening "Item 7 ...": only the catalog title opening it makes it
            # a heading (checked per item later).
            title = ""
            inline_text = body
        else:
            title = _clean_title(body)
        if not title and not inline_text and _title_block(blocks, i + 1, standard):
            nxt = blocks[i + 1]
            title = _clean_title(nxt.text)
            body_from = i + 2
            emphasized = emphasized or nxt.emphasis >= len(nxt.text)
        elif plain and own_line and len(text) >= 50 and _title_block(blocks, i + 1, standard):
            # A long title wrapped onto the next line of plain text.
            nxt = blocks[i + 1]
            longer = f"{title} {_clean_title(nxt.text)}"
            if (
                not nxt.new_paragraph
                and len(nxt.text) <= 60
                and not nxt.text.endswith(".")
                and max(
                    (_similarity(longer, t) - _similarity(title, t) for t in standard), default=0
                )
                > 0
            ):
                title = longer
                body_from = i + 2
        # A trailing page number marks a TOC entry; a link alone does not (some filers link
        # every body heading back to the TOC), so it only weighs a heading down later.
        toc = block.page_ref or (own_line and bool(_TRAILING_PAGE.search(body)))
        found.append(
            _Heading(
                block=i,
                body_from=body_from,
                number=number,
                explicit_part=_ROMAN[m.group("part").lower()] if m.group("part") else None,
                title=title,
                inline_text=inline_text,
                emphasized=emphasized,
                own_line=own_line,
                toc=toc,
            )
        )
    return found


def _owns_nothing(blocks: list[Block], offsets: list[int], start: int, stop: int) -> bool:
    """No prose between a heading and the next one: only titles and page numbers.

    Prose is a block ending a sentence or running on; "None." counts, so a body's string of
    one-line Items is not mistaken for a table of contents.
    """
    if stop > start and offsets[stop] - offsets[start] >= _DENSE_GAP:
        return False
    for k in range(start, stop):
        text = blocks[k].text
        if text.rstrip("\u201d\"'").endswith(".") or len(text.split()) >= 8:
            return False
    return True


def _toc_context(headings: list[_Heading], blocks: list[Block], offsets: list[int]) -> list[float]:
    """A weight factor per heading from its surroundings.

    A table that lists several Items is a table of contents; so is a run of Item headings
    with (almost) no text between them. Body Items can also be short ("Item 1B. None."), so
    the run rule only weighs them down; the catalog order still keeps them in the chain.
    """
    per_table: dict[int, set[str]] = {}
    for h in headings:
        table = blocks[h.block].table
        if table:
            per_table.setdefault(table, set()).add(h.number)
    factors = [1.0] * len(headings)
    empty = [
        _owns_nothing(blocks, offsets, h.body_from, headings[k + 1].block)
        for k, h in enumerate(headings[:-1])
    ]
    run_start = 0
    for k in range(len(headings)):
        if k < len(empty) and empty[k]:
            continue
        # headings[run_start:k] own no text; a long such run is a table of contents.
        if k - run_start >= _DENSE_RUN:
            for j in range(run_start, k):
                factors[j] = 0.4
        run_start = k + 1
    for k, h in enumerate(headings):
        table = blocks[h.block].table
        if h.toc or (table and len(per_table.get(table, ())) >= 3):
            factors[k] = 0.15
        elif blocks[h.block].linked:
            factors[k] = min(factors[k], 0.5)
    return factors


def _dedupe(headings: list[_Heading], parts: list[int | None]) -> list[_Heading]:
    """Drop a heading that repeats the one just before it (running page headers).

    Only the first of "Item 7. MD&A" printed again at the top of every page starts the
    section; keeping a later one would hand the pages in between to the previous Item.
    """
    kept: list[_Heading] = []
    for h in headings:
        prev = kept[-1] if kept else None
        if (
            prev is not None
            and prev.number == h.number
            and prev.explicit_part == h.explicit_part
            and parts[prev.block] == parts[h.block]
            and not prev.toc
            and not h.toc
            and (not h.title or not prev.title or _similarity(h.title, prev.title) >= 0.5)
        ):
            continue
        kept.append(h)
    return kept


def _title_only(
    blocks: list[Block],
    catalog: ItemCatalog,
    parts: list[int | None],
    found: list[_Candidate],
) -> list[_Candidate]:
    """Headings that print only the title ("RISK FACTORS") for Items the body never labels.

    Some filers number Items in the table of contents but not in the body. For an Item with
    no body candidate, a short emphasized or upper-case block whose words are the standard
    title's becomes a (weaker) candidate.
    """
    labelled = {c.item.code for c in found if not c.toc and c.weight >= 0.5}
    missing = [i for i in catalog.items if i.code not in labelled and i.title != "[Reserved]"]
    if not missing:
        return []
    extra: list[_Candidate] = []
    for k, block in enumerate(blocks):
        text = block.text
        if len(text) > 150 or block.linked or block.page_ref or text.count(" | ") > 1:
            continue
        heading_like = block.emphasis >= len(text) or (text.isupper() and len(text) > 6)
        if not heading_like:
            continue
        bare = _CODE_PREFIX.sub("", text)
        for item in missing:
            if catalog.parts_matter and parts[k] is not None and parts[k] != item.part:
                continue
            if _similarity(bare, item.title) >= 0.85 and _similarity(item.title, bare) >= 0.85:
                extra.append(
                    _Candidate(
                        block=k,
                        body_from=k + 1,
                        item=item,
                        title=_clean_title(bare),
                        inline_text="",
                        weight=1.2,
                        toc=False,
                        strong=False,
                    )
                )
    return extra


def _candidates(
    blocks: list[Block], catalog: ItemCatalog, offsets: list[int], plain: bool
) -> list[_Candidate]:
    parts = _part_markers(blocks)
    headings = _dedupe(_headings(blocks, catalog, plain), parts)
    factors = _toc_context(headings, blocks, offsets)
    found: list[_Candidate] = []
    for h, factor in zip(headings, factors, strict=True):
        part = h.explicit_part or parts[h.block]
        for item in catalog.lookup(h.number, None):
            title, inline_text = h.title, h.inline_text
            if inline_text and not title:
                # A paragraph starting "Item 7 ...": only the standard title opening it makes
                # it a heading.
                if _similarity(inline_text[: len(item.title) + 20], item.title) < 0.75:
                    continue
                title = item.title
                inline_text = inline_text[len(item.title) :].lstrip(_SEPARATORS + " ")
            similarity = _similarity(title, item.title)
            weight = 1.0
            weight += 0.5 if h.emphasized else 0.0
            weight += 0.3 if h.own_line else 0.0
            weight += 0.6 * similarity
            if not blocks[h.block].new_paragraph:
                weight -= 0.4
            if catalog.parts_matter:
                if part is not None:
                    weight += 0.6 if item.part == part else -0.6
            elif h.explicit_part is not None and item.part is not None:
                weight -= 0.5 if h.explicit_part != item.part else 0.0
            toc = factor < 0.2
            found.append(
                _Candidate(
                    block=h.block,
                    body_from=h.body_from,
                    item=item,
                    title=title or item.title,
                    inline_text=inline_text,
                    weight=max(weight * factor, 0.05),
                    toc=toc,
                    strong=factor == 1.0 and h.own_line and (h.emphasized or similarity >= 0.5),
                )
            )
    found.extend(_title_only(blocks, catalog, parts, found))
    found.sort(key=lambda c: (c.block, c.item.order))
    return found


def _length_bonus(chars: int) -> float:
    return 0.25 * math.log10(1 + max(chars, 0))


def _best_chain(candidates: list[_Candidate], offsets: list[int], total: int) -> list[int]:
    """Indices into candidates of the heaviest chain increasing in block and catalog order."""
    n = len(candidates)
    best = [0.0] * n
    back = [-1] * n
    for j, cj in enumerate(candidates):
        best[j] = cj.weight
        for i in range(j):
            ci = candidates[i]
            if ci.block >= cj.block or ci.item.order >= cj.item.order:
                continue
            score = best[i] + _length_bonus(offsets[cj.block] - offsets[ci.block]) + cj.weight
            if score > best[j]:
                best[j] = score
                back[j] = i
    if not n:
        return []
    end = max(range(n), key=lambda j: best[j] + _length_bonus(total - offsets[candidates[j].block]))
    chain: list[int] = []
    while end != -1:
        chain.append(end)
        end = back[end]
    return chain[::-1]


def _furniture(blocks: list[Block], plain: bool) -> set[int]:
    """Blocks that are furniture: running footers, page numbers, TOC back-links, and the
    "PART II - OTHER INFORMATION" headings between Items (structure, not content)."""
    shapes = Counter(
        _DIGITS.sub("#", b.text.lower()) for b in blocks if not b.row and len(b.text) <= 100
    )
    drop: set[int] = set()
    for i, b in enumerate(blocks):
        if b.row or len(b.text) > 100:
            continue
        text = b.text
        backlink = _TOC_BACKLINK.match(text) and (b.linked or shapes[text.lower()] >= 3)
        part = _PART.match(text)
        part_heading = (
            part is not None
            and len(part.group("rest")) <= 60
            and (_starts_like_title(part.group("rest")))
        )
        if backlink or part_heading or (not plain and _BARE_NUMBER.match(text)):
            drop.add(i)
        elif shapes[_DIGITS.sub("#", text.lower())] >= 5 and not _DATE_LIKE.match(text):
            shape = _DIGITS.sub("#", text.lower())
            if _FORM_FOOTER.search(text) or shape.endswith("#"):
                drop.add(i)
    return drop


def split_sections(blocks: list[Block], form: str | None, *, plain: bool = False) -> list[Section]:
    """Split a filing's blocks into Item sections, in document order.

    ``form`` selects the catalog (10-K or 10-Q family); other forms, and filings where no Item
    heading is found, yield an empty list (the caller stores the whole text instead).
    ``plain`` says the blocks come from plain text, where a bare number line may be a table
    cell rather than a page number.
    """
    catalog = catalog_for(form)
    if catalog is None or not blocks:
        return []
    offsets: list[int] = []
    position = 0
    for b in blocks:
        offsets.append(position)
        position += len(b.text) + 1
    offsets.append(position)
    candidates = _candidates(blocks, catalog, offsets, plain)
    if not candidates:
        return []
    chain = [candidates[k] for k in _best_chain(candidates, offsets, position)]
    chosen_codes = {c.item.code for c in chain}
    first_body = next((c.block for c in chain if not c.toc), None)
    if first_body is not None:
        used_blocks = {c.block for c in chain}
        extras: dict[str, _Candidate] = {}
        for c in candidates:
            if (
                c.strong
                and c.block > first_body
                and c.item.code not in chosen_codes
                and c.block not in used_blocks
                and (c.item.code not in extras or c.weight > extras[c.item.code].weight)
            ):
                extras[c.item.code] = c
        chain = sorted([*chain, *extras.values()], key=lambda c: c.block)
    drop = _furniture(blocks, plain)
    spans: list[tuple[_Candidate, list[range]]] = []
    for n, c in enumerate(chain):
        stop = chain[n + 1].block if n + 1 < len(chain) else len(blocks)
        spans.append((c, [range(c.body_from, stop)]))
    if catalog.family == "10-K":
        _reattach_financial_statements(spans, blocks, offsets)
    sections: list[Section] = []
    for n, (c, ranges) in enumerate(spans):
        lines = [c.inline_text] if c.inline_text else []
        lines.extend(blocks[k].text for r in ranges for k in r if k not in drop)
        spans_owned = tuple((r.start, r.stop) for r in ranges if r.stop > r.start)
        if spans_owned and spans_owned[0][0] == c.body_from:
            spans_owned = ((c.block, spans_owned[0][1]), *spans_owned[1:])
        sections.append(
            Section(
                code=c.item.code,
                title=c.title,
                ordinal=n,
                text="\n".join(lines).strip(),
                spans=spans_owned,
            )
        )
    return sections


def _reattach_financial_statements(
    spans: list[tuple[_Candidate, list[range]]], blocks: list[Block], offsets: list[int]
) -> None:
    """Give F-pages printed after the last Item to an Item 8 that only points at them.

    Many 10-Ks print Item 8 as one sentence ("see pages F-1 through F-40") and put the
    statements after the last Item, either right after a one-line Item 16 or after the
    signatures. Left alone they would count as the "Form 10-K Summary" or the exhibit list.
    Statements printed inside Item 15 proper stay there: that is where the filer put them.
    """
    codes = [c.item.code for c, _ in spans]
    if "8" not in codes or len(spans) < 2:
        return
    item8_ranges = spans[codes.index("8")][1]
    if sum(offsets[r.stop] - offsets[r.start] for r in item8_ranges) > _POINTER_CHARS:
        return
    last, last_ranges = spans[-1]
    whole = last_ranges[0]
    signatures = next((k for k in whole if _SIGNATURES.match(blocks[k].text)), None)
    start = None
    for k in whole:
        text = blocks[k].text
        if len(text) < 120 and _FS_HEADING.match(text):
            after_signatures = signatures is not None and k > signatures
            right_after_16 = (
                last.item.code == "16" and offsets[k] - offsets[whole.start] <= _POINTER_CHARS
            )
            if after_signatures or right_after_16:
                start = k
            break
    if start is None:
        return
    stop = next(
        (k for k in range(start + 1, whole.stop) if _BACK_MATTER.match(blocks[k].text)),
        whole.stop,
    )
    spans[-1] = (last, [range(whole.start, start), range(stop, whole.stop)])
    item8_ranges.append(range(start, stop))
