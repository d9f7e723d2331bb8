"""Indexing: sections in, chunks + int8 vectors + keyword rows out, one section at a time.

Incremental and resumable by construction: a section is indexed when its
``indexed_sections`` row exists, and that row is written in the same transaction as the
section's chunks, vectors and keyword rows. A crash or kill mid-way loses at most the
sections being embedded; a re-run skips every stored section and redoes those, and a
section is never stored twice (its old chunks are replaced in the same transaction).

Embedding is the slow part (tens of chunks per second on 2 cores), so sections are
embedded in batches of about ``batch`` chunks outside any transaction, then written through
``write`` (the app's single writer, or a plain transaction in the CLI).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from appliance.db.queries import rag as q
from appliance.edgar.vocabulary import form_family, item_label
from appliance.rag.chunking import ChunkPolicy, chunk_text
from appliance.rag.embedding import TextEmbedder
from appliance.rag.vectors import quantize

__all__ = [
    "DEFAULT_POLICY",
    "IndexProgress",
    "IndexResult",
    "Indexer",
    "header_for",
]

log = logging.getLogger("appliance.rag")
T = TypeVar("T")

DEFAULT_POLICY = ChunkPolicy()


def header_for(s: q.SectionTodo) -> str:
    """The contextual line embedded and keyword-indexed with every chunk of a section.

    A chunk alone often never names its company, period or topic ("The Company had 166,000
    employees"); the header puts them in both the vector and the keywords.
    """
    who = s.company or (s.ticker or f"CIK {s.cik}")
    if s.ticker and s.ticker.upper() not in who.upper():
        who = f"{who} ({s.ticker})"
    period = ""
    if s.period_of_report:
        year = s.period_of_report[:4]
        family = form_family(s.form)
        if family == "10-K":
            period = f" for fiscal year {year} (ended {s.period_of_report})"
        elif family == "10-Q":
            period = f" for the quarter ended {s.period_of_report}"
        else:
            period = f" dated {s.period_of_report}"
    title = s.title.strip().rstrip(".") if s.title else ""
    label = item_label(s.item)
    section = f"{label}. {title}" if title and title.lower() != label.lower() else label
    return f"{who} {s.form}{period}, filed {s.filing_date}. {section}."


@dataclass
class IndexProgress:
    sections_total: int = 0
    sections_done: int = 0
    chunks: int = 0
    filings: set[str] = field(default_factory=set)


@dataclass
class IndexResult:
    sections: int
    chunks: int
    removed: int
    seconds: float
    new_ids: list[int] = field(default_factory=list)
    removed_ids: list[int] = field(default_factory=list)


@dataclass
class _Pending:
    todo: q.SectionTodo
    header: str
    pieces: list[Any]


class Indexer:
    """Chunks and embeds sections and stores them; the library core of ``appliance index``
    and of the background indexer."""

    def __init__(
        self,
        embedder: TextEmbedder,
        *,
        policy: ChunkPolicy = DEFAULT_POLICY,
        batch: int = 64,
    ) -> None:
        self.embedder = embedder
        self.policy = policy
        self.batch = batch
        self._specials = embedder.count_tokens("")

    def count(self, text: str) -> int:
        """Tokens of ``text`` without the special tokens (additive over words)."""
        return self.embedder.count_tokens(text) - self._specials

    def pending(
        self,
        read: Callable[..., Any],
        accessions: Sequence[str] | None,
        items: Sequence[str] | None = None,
    ) -> list[Any]:
        todo: list[q.SectionTodo] = read(q.pending_sections, self.policy.version, accessions, items)
        return todo

    def run(
        self,
        read: Callable[..., Any],
        write: Callable[..., Any],
        accessions: Sequence[str] | None = None,
        *,
        items: Sequence[str] | None = None,
        on_progress: Callable[[IndexProgress], None] | None = None,
        on_stored: Callable[[list[int], list[int]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> IndexResult:
        """Index every pending section (of ``accessions`` and ``items``, or all).

        ``read(fn, *args)`` and ``write(fn, *args)`` run a query function on a connection,
        ``write`` inside a transaction. ``on_stored(removed_ids, new_ids)`` is called after each
        committed batch (to keep the in-memory index in step).
        """
        started = time.perf_counter()
        todo = self.pending(read, accessions, items)
        progress = IndexProgress(sections_total=len(todo))
        result = IndexResult(0, 0, 0, 0.0)
        if on_progress:
            on_progress(progress)
        batch: list[_Pending] = []
        size = 0
        for s in todo:
            if should_stop and should_stop():
                break
            text = read(q.section_text, s.section_id)
            if text is None:  # re-imported meanwhile
                continue
            header = header_for(s)
            header_tokens = self.embedder.count_tokens(header)
            pieces = chunk_text(text, self.count, self.policy, header_tokens=header_tokens)
            batch.append(_Pending(s, header, pieces))
            size += len(pieces)
            if size >= self.batch:
                self._flush(batch, write, progress, result, on_progress, on_stored)
                batch, size = [], 0
        if batch:
            self._flush(batch, write, progress, result, on_progress, on_stored)
        result.seconds = time.perf_counter() - started
        return result

    def _flush(
        self,
        batch: list[_Pending],
        write: Callable[..., Any],
        progress: IndexProgress,
        result: IndexResult,
        on_progress: Callable[[IndexProgress], None] | None,
        on_stored: Callable[[list[int], list[int]], None] | None,
    ) -> None:
        texts = [f"{p.header}\n{c.text}" for p in batch for c in p.pieces]
        # Similar lengths side by side: a batch pads to its longest text.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), 384), dtype=np.float32)
        if texts:
            vectors[order] = self.embedder.embed([texts[i] for i in order])
        codes = quantize(vectors)
        rows: list[tuple[q.SectionTodo, list[q.NewChunk]]] = []
        at = 0
        for p in batch:
            chunks = [
                q.NewChunk(
                    ordinal=n,
                    char_start=c.start,
                    char_end=c.end,
                    tokens=c.tokens,
                    header=p.header,
                    text=c.text,
                    embedding=codes[at + n].tobytes(),
                )
                for n, c in enumerate(p.pieces)
            ]
            at += len(p.pieces)
            rows.append((p.todo, chunks))
        removed, new = write(_store_batch, rows, self.policy.version)
        result.sections += len(batch)
        result.chunks += len(new)
        result.removed += len(removed)
        result.new_ids.extend(new)
        result.removed_ids.extend(removed)
        progress.sections_done += len(batch)
        progress.chunks += len(new)
        progress.filings.update(p.todo.accession for p in batch)
        if on_stored:
            on_stored(removed, new)
        if on_progress:
            on_progress(progress)


def _store_batch(
    conn: Any, rows: list[tuple[q.SectionTodo, list[q.NewChunk]]], policy: str
) -> tuple[list[int], list[int]]:
    removed: list[int] = []
    new: list[int] = []
    for todo, chunks in rows:
        r, n = q.store_section(conn, todo.section_id, todo.accession, policy, chunks)
        removed += r
        new += n
    return removed, new
