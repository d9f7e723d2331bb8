"""Prose paragraphs from EDGAR filings, for calibration, benchmarks, tests and self-training.

Build-time helper only (the appliance has its own filing parser): it keeps ``<p>``/``<div>``
text blocks that read like sentences (enough words, mostly letters) and skips tables and the
hidden inline-XBRL header. Works on the modern ``.htm`` filings and the older ``.html`` ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from lxml import html

_WS = re.compile(r"\s+")


def _blocks(path: Path) -> Iterator[str]:
    raw = path.read_bytes()
    # Some EDGAR .htm files carry an SGML <DOCUMENT> wrapper around the HTML.
    start = raw.find(b"<html")
    if start < 0:
        start = raw.find(b"<HTML")
    tree = html.fromstring(raw[max(start, 0) :])
    for bad in tree.xpath("//table|//*[local-name()='header']|//script|//style"):
        bad.drop_tree()
    for el in tree.iter("p", "div", "P", "DIV"):
        if el.xpath(".//p|.//div|.//P|.//DIV"):
            continue  # only leaf blocks, or nested text is emitted twice
        text = _WS.sub(" ", el.text_content()).strip()
        if text:
            yield text


def prose(path: Path, min_words: int = 12) -> list[str]:
    """Paragraphs of running text from one filing, in document order, deduplicated."""
    seen: set[str] = set()
    out: list[str] = []
    for text in _blocks(path):
        words = text.split()
        if len(words) < min_words or text in seen:
            continue
        letters = sum(c.isalpha() for c in text)
        if letters < 0.6 * len(text):
            continue
        seen.add(text)
        out.append(text)
    return out


def filings(root: Path) -> list[Path]:
    """The HTML filings under ``root`` (``.htm``/``.html``, skipping EDGAR index pages)."""
    return sorted(
        p for p in root.rglob("*.htm*") if "-index_" not in p.name and p.suffix in (".htm", ".html")
    )
