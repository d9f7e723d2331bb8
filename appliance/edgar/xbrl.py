"""Inline XBRL facts from a filing's HTML: the lean parser of this appliance.

A 10-K or 10-Q filed since 2019 tags its numbers in place: ``<ix:nonFraction
name="us-gaap:Revenues" contextRef="c-1" unitRef="usd" scale="6" decimals="-6"
format="ixt:num-dot-decimal">130,497</ix:nonFraction>``, with the contexts (entity, period,
dimensions) and units in a hidden ``ix:header``. :func:`extract_facts` reads them from the
lxml tree the text extractor already built (``blocks.html_blocks``), so a filing is parsed
once, and places each fact in the block of visible text it sits in.

Why not a library: Arelle (the reference processor) weighs tens of MB, wants the taxonomies
(a network fetch) to do what this needs, and parses XHTML strictly, but one shared filing
(NVIDIA's 2023 10-K) is not well-formed XML; the HTML tree has the same facts as a strict
XML parse on every well-formed shared filing (tests/test_xbrl.py checks it). Lighter
libraries parse the file again with BeautifulSoup and cannot say in which Item a fact sits.

What is handled: ``ix:nonFraction`` (``scale``, ``sign``, ``decimals``, ``format`` through
:mod:`appliance.edgar.ixt`, ``xsi:nil``, nested facts), ``ix:nonNumeric`` (with
``ix:continuation`` chains and ``ix:exclude``), the ``ix:hidden`` section (and
``-sec-ix-hidden`` styles that show a hidden fact in the text), contexts with explicit and
typed dimensions, divided units. Duplicate facts (same concept, period, dimensions and unit)
are kept once: consistent ones (equal after rounding to the coarser ``decimals``) silently,
the most precise kept; inconsistent ones are reported as conflicts.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import lxml.etree

from appliance.edgar.ixt import NUMERIC, UnknownFormat, local_name, transform

__all__ = [
    "Conflict",
    "Context",
    "Fact",
    "InlineXbrl",
    "exact",
    "extract_facts",
]

Element = lxml.etree._Element

# Text facts longer than this (notes and policies tagged as text blocks) are not stored: the
# sections already hold that text, and a fact store is for values.
MAX_TEXT_VALUE = 1000
_SPACES = re.compile(r"\s+")
_HIDDEN_REF = re.compile(r"-sec-ix-hidden\s*:\s*([^;\s]+)", re.IGNORECASE)
# Exact decimal arithmetic wide enough for any tagged amount.
_DECIMAL = decimal.Context(prec=60)
_IX_TAGS = ("ix:nonfraction", "ix:nonnumeric", "ix:continuation", "ix:resources", "ix:hidden")


@dataclass(frozen=True, slots=True)
class Context:
    id: str
    start: str | None  # ISO date; None for an instant
    end: str  # the instant, or the last day of the duration
    dimensions: tuple[tuple[str, str], ...]  # (axis, member), sorted
    entity: str | None = None

    @property
    def instant(self) -> bool:
        return self.start is None


@dataclass(frozen=True, slots=True)
class Fact:
    concept: str  # prefix:LocalName as the filer wrote it
    value: str  # exact decimal string for numbers; the text otherwise
    numeric: bool
    unit: str | None  # "USD", "shares", "USD/shares", "pure", ...
    decimals: str | None  # "-6", "2", "INF"
    context: Context
    blocks: tuple[int, ...]  # where it is shown in the visible text, in document order
    hidden: bool  # tagged in ix:hidden (shown nowhere, or only through -sec-ix-hidden)
    shown: str = ""  # the text as displayed ("130,497"), to find it in its paragraph

    @property
    def key(self) -> tuple[str, str | None, str, tuple[tuple[str, str], ...], str | None]:
        c = self.context
        return (self.concept, c.start, c.end, c.dimensions, self.unit)


@dataclass(frozen=True, slots=True)
class Conflict:
    concept: str
    period: str
    values: tuple[str, ...]


@dataclass
class InlineXbrl:
    facts: list[Fact] = field(default_factory=list)
    duplicates: int = 0  # consistent repeats dropped
    conflicts: list[Conflict] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    text_blocks: int = 0  # text facts too long to store

    def dei(self, name: str) -> str | None:
        """A cover-page (``dei:``) fact without dimensions, by local name."""
        for fact in self.facts:
            if fact.concept.endswith(":" + name) and not fact.context.dimensions:
                return fact.value
        return None

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def exact(value: Decimal) -> str:
    """A decimal as a canonical plain string: no exponent, no trailing fractional zeros,
    no ``-0`` (``2.47`` at scale 9 is ``2470000000``; ``1.40`` is ``1.4``)."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _tag(el: Element) -> str:
    tag = el.tag
    return tag.lower() if isinstance(tag, str) else ""


def _local(tag: str) -> str:
    return tag.rsplit(":", 1)[-1]


def _text(el: Element) -> str:
    return _SPACES.sub(" ", "".join(str(t) for t in el.itertext())).strip()


def _measure(text: str) -> str:
    """``iso4217:USD`` -> ``USD``; ``xbrli:shares`` -> ``shares``."""
    return text.strip().rsplit(":", 1)[-1]


def _units(resources: list[Element]) -> dict[str, str]:
    units: dict[str, str] = {}
    for el in (u for r in resources for u in r):  # units are children of ix:resources
        if _local(_tag(el)) != "unit" or not (uid := el.get("id")):
            continue
        numerator: list[str] = []
        denominator: list[str] = []
        plain: list[str] = []
        for m in el.iter():
            if _local(_tag(m)) != "measure":
                continue
            side = next(
                (_local(_tag(a)) for a in m.iterancestors() if _local(_tag(a)).startswith("unit")),
                "",
            )
            target = {"unitnumerator": numerator, "unitdenominator": denominator}.get(side, plain)
            target.append(_measure(_text(m)))
        if numerator or denominator:
            units[uid] = "*".join(numerator) + "/" + "*".join(denominator)
        else:
            units[uid] = "*".join(plain)
    return units


def _contexts(resources: list[Element]) -> dict[str, Context]:
    contexts: dict[str, Context] = {}
    for el in (c for r in resources for c in r):  # contexts are children of ix:resources
        if _local(_tag(el)) != "context" or not (cid := el.get("id")):
            continue
        start = end = instant = entity = None
        dims: list[tuple[str, str]] = []
        for part in el.iter():
            name = _local(_tag(part))
            if name == "instant":
                instant = _text(part)[:10]
            elif name == "startdate":
                start = _text(part)[:10]
            elif name == "enddate":
                end = _text(part)[:10]
            elif name == "identifier":
                entity = _text(part)
            elif name in ("explicitmember", "typedmember") and (axis := part.get("dimension")):
                dims.append((axis.strip(), _text(part)))
        if instant:
            contexts[cid] = Context(cid, None, instant, tuple(sorted(dims)), entity)
        elif start and end:
            contexts[cid] = Context(cid, start, end, tuple(sorted(dims)), entity)
    return contexts


def _shown_text(el: Element) -> Iterator[str]:
    """The text of a nonNumeric or continuation, leaving out ``ix:exclude`` content."""
    if el.text:
        yield el.text
    for child in el:
        if _tag(child) != "ix:exclude":
            yield from _shown_text(child)
        if child.tail:
            yield child.tail


def _element_text(el: Element) -> str:
    """All text of a nonNumeric or continuation but its ``ix:exclude`` parts (lxml gathers
    the text in C unless there is something to leave out)."""
    if next(el.iter("ix:exclude"), None) is None:
        return str(el.xpath("string()"))
    return "".join(_shown_text(el))


def _numeric_value(el: Element) -> tuple[str | None, str | None]:
    """(exact value, None) or (None, reason to skip)."""
    nil = next((v for k, v in el.attrib.items() if str(k).lower().endswith("nil")), None)
    if nil is not None and nil.strip().lower() in ("true", "1"):
        return None, "nil"
    text = _text(el)
    fmt = el.get("format")
    if fmt and local_name(fmt) not in NUMERIC:
        return None, f"unsupported format {fmt}"
    try:
        shown = transform(fmt, text)
        amount = Decimal(shown)
        scale = int(el.get("scale") or 0)
    except (UnknownFormat, decimal.InvalidOperation, ValueError):
        return None, "unreadable number"
    value = _DECIMAL.multiply(amount, _DECIMAL.power(10, scale)) if scale else amount
    if (el.get("sign") or "").strip() == "-":
        value = -value
    return exact(value), None


def _consistent(a: Fact, b: Fact) -> bool:
    """Equal values, or equal after rounding both to the coarser ``decimals``."""
    if a.value == b.value:
        return True
    if not (a.numeric and b.numeric):
        return _SPACES.sub(" ", a.value).strip() == _SPACES.sub(" ", b.value).strip()
    precisions = [int(d) for d in (a.decimals, b.decimals) if d and d.strip().lstrip("-").isdigit()]
    if not precisions:
        return False
    quantum = Decimal(1).scaleb(-min(precisions))
    rounded = {
        Decimal(v).quantize(quantum, rounding=decimal.ROUND_HALF_EVEN, context=_DECIMAL)
        for v in (a.value, b.value)
    }
    return len(rounded) == 1


def _precision(fact: Fact) -> float:
    d = (fact.decimals or "").strip().upper()
    if d == "INF":
        return float("inf")
    try:
        return float(int(d))
    except ValueError:
        return float("-inf")


def extract_facts(root: Element | None, anchors: dict[Element, int]) -> InlineXbrl | None:
    """Every inline-XBRL fact of the document, or None when it carries none.

    ``anchors`` maps the ix elements met in the visible text (and the elements styled
    ``-sec-ix-hidden``) to their block index, as ``html_blocks`` recorded them.
    """
    if root is None:
        return None
    # One pass, with lxml matching the tag names in C (the HTML parser keeps "ix:" in them).
    tagged: list[Element] = []
    resources: list[Element] = []
    hidden_parts: list[Element] = []
    continuations: dict[str, Element] = {}
    for el in root.iter(*_IX_TAGS):
        tag = _tag(el)
        if tag in ("ix:nonfraction", "ix:nonnumeric"):
            tagged.append(el)
        elif tag == "ix:continuation":
            if cid := el.get("id"):
                continuations[cid] = el
        elif tag == "ix:resources":
            resources.append(el)
        else:
            hidden_parts.append(el)
    if not tagged:
        return None
    out = InlineXbrl()
    contexts = _contexts(resources)
    units = _units(resources)
    in_hidden = {e for part in hidden_parts for e in part.iter("ix:nonfraction", "ix:nonnumeric")}
    shown_at: dict[str, list[int]] = {}  # hidden fact id -> blocks showing it
    for el, block in anchors.items():
        if m := _HIDDEN_REF.search(el.get("style") or ""):
            shown_at.setdefault(m.group(1), []).append(block)
    kept: dict[tuple[object, ...], Fact] = {}
    for el in tagged:
        name = (el.get("name") or "").strip()
        context = contexts.get((el.get("contextref") or "").strip())
        if not name or context is None:
            out.skip("no concept or context")
            continue
        numeric = _tag(el) == "ix:nonfraction"
        unit: str | None = None
        if numeric:
            value, problem = _numeric_value(el)
            if value is None:
                out.skip(problem or "unreadable")
                continue
            unit = units.get((el.get("unitref") or "").strip())
        else:
            # Continuations sit in other blocks of the page: a space between them.
            parts = [_element_text(el)]
            seen: set[str] = set()
            follow = el.get("continuedat")
            while follow and follow not in seen and follow in continuations:
                seen.add(follow)
                parts.append(_element_text(continuations[follow]))
                follow = continuations[follow].get("continuedat")
            text = " ".join(parts)
            if len(text) > 4 * MAX_TEXT_VALUE:  # a note's text block: not worth normalizing
                out.text_blocks += 1
                continue
            text = _SPACES.sub(" ", text).strip()
            if len(text) > MAX_TEXT_VALUE:
                out.text_blocks += 1
                continue
            try:
                value = transform(el.get("format"), text)
            except UnknownFormat:
                value = text  # a text fact keeps what the filing shows
        hidden = el in in_hidden
        blocks: list[int] = []
        if el in anchors:
            blocks.append(anchors[el])
        if (fid := el.get("id")) and fid in shown_at:
            blocks.extend(shown_at[fid])
        fact = Fact(
            concept=name,
            value=value,
            numeric=numeric,
            unit=unit,
            decimals=(el.get("decimals") or "").strip() or None,
            context=context,
            blocks=tuple(sorted(set(blocks))),
            hidden=hidden,
            shown=_text(el)[:100] if numeric else "",
        )
        previous = kept.get(fact.key)
        if previous is None:
            kept[fact.key] = fact
            continue
        merged_blocks = tuple(sorted(set(previous.blocks) | set(fact.blocks)))
        if _consistent(previous, fact):
            out.duplicates += 1
        else:
            period = f"{context.start}..{context.end}" if context.start else context.end
            out.conflicts.append(Conflict(name, period, (previous.value, fact.value)))
        best = fact if _precision(fact) > _precision(previous) else previous
        kept[fact.key] = Fact(
            concept=best.concept,
            value=best.value,
            numeric=best.numeric,
            unit=best.unit,
            decimals=best.decimals,
            context=best.context,
            blocks=merged_blocks,
            hidden=previous.hidden and fact.hidden,
            shown=previous.shown or fact.shown,
        )
    out.facts = list(kept.values())
    return out
