"""Indexing: sections in, chunks + int8 vectors + keyword rows out, one section at a time.

Incremental and resumable by construction: a section is indexed when its
``indexed_sections`` row exists, and that row is written in the same transaction as the
section's chunks, vectors and keyword rows. A crash or kill mid-way loses at most the
sections being embedded; a re-run skips every stored section and redoes those, and a
section is never stored twice (its old chunks are replaced in the same transaction).

Embedding is the slow part (about 150 chunks per second on 2 cores), so sections are
embedded in batches of about ``batch`` chunks outside any transaction, then written through
the database's synchronous mode (the app's ``db.sync``, or a CLI session). Batches are large
(512 chunks, a few seconds of work) because the embedder runs rows of *equal* token length
together (so a vector never depends on its batch mates): the more chunks it is given at once,
the more of them share a length and the fewer, fuller model calls it makes (the bundled
sample: 171 chunks/s at 512 against 147 at 64, same run).

Two things keep the model's work down. The embedder reads a chunk behind a *short* header
(company, form and what the Item is about: :func:`embed_header_for`), while the full header
with the fiscal period and filing date is stored and keyword-indexed (:func:`header_for`):
the period is matched by the retriever's period resolution, not by the vector, so the
embedded text of a passage repeated in a company's yearly filings is the same text every
year. And every
embedded text's vector is remembered by a hash of the text and the embedder's identity
(``embedding_cache``): a repeated passage, or any re-index after a chunking change, reuses
the stored vector instead of running the model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from appliance.db.connection import Connection
from appliance.db.database import SyncDatabase
from appliance.db.queries import rag as q
from appliance.edgar.items import catalog_for
from appliance.edgar.vocabulary import form_family, item_label
from appliance.rag.chunking import ChunkPolicy, chunk_text
from appliance.rag.embedding import TextEmbedder, content_key
from appliance.rag.vectors import quantize

__all__ = [
    "DEFAULT_POLICY",
    "IndexProgress",
    "IndexResult",
    "Indexer",
    "embed_header_for",
    "header_for",
]

log = logging.getLogger("appliance.rag")

DEFAULT_POLICY = ChunkPolicy()


def _who(s: q.SectionTodo) -> str:
    who = s.company or (s.ticker or f"CIK {s.cik}")
    if s.ticker and s.ticker.upper() not in who.upper():
        who = f"{who} ({s.ticker})"
    return who


def _title(s: q.SectionTodo) -> str:
    """The section's title as the filing spells it, without a closing period."""
    return s.title.strip().rstrip(".") if s.title else ""


def _section(s: q.SectionTodo) -> str:
    """The Item and the filing's title: "Item 7. MANAGEMENT'S DISCUSSION AND ANALYSIS ..."."""
    title, label = _title(s), item_label(s.item)
    return f"{label}. {title}" if title and title.lower() != label.lower() else label


def header_for(s: q.SectionTodo) -> str:
    """The contextual line stored and keyword-indexed with every chunk of a section.

    A chunk alone often never names its company, period or topic ("The Company had 166,000
    employees"); the header puts them in the keywords (and, shortened, in the vector).
    """
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
    return f"{_who(s)} {s.form}{period}, filed {s.filing_date}. {_section(s)}."


def embed_header_for(s: q.SectionTodo) -> str:
    """The short line the embedder reads before each chunk: who, which form, what the Item
    is about ("Apple Inc. (AAPL) 10-Q. Risk Factors.").

    No period or filing date, so that a passage repeated in later filings is the same text
    (one vector, computed once); the period is in the keyword-indexed header and the
    retriever's period resolution. The Item's topic in a few words, not its SEC title nor its
    number: the long titles cost up to a tenth of every chunk's tokens, and on the blind tune
    split the short line found more evidence (fused hit@5 0.835 -> 0.871, with the reader
    0.859 -> 0.871).
    """
    return f"{_who(s)} {s.form}. {_topic(s)}."


# The words kept of a section title outside the Item catalogs (an 8-K, a whole document).
_TOPIC_WORDS = 6


def _topic(s: q.SectionTodo) -> str:
    catalog = catalog_for(s.form)
    item = catalog.by_code(s.item) if catalog else None
    if item is not None:
        return item.topic
    return " ".join((_title(s) or item_label(s.item)).split()[:_TOPIC_WORDS])


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
    embed_header: str
    pieces: list[Any]


class Indexer:
    """Chunks and embeds sections and stores them; the library core of ``appliance index``
    and of the background indexer.

    ``reuse`` (vectors by content hash), ``short_header`` and large batches (see the module
    docstring) are what make indexing faster than it was; :attr:`PREVIOUS` turns them off,
    with the former chunking policy, for the benchmark that measures the difference in one run.
    """

    PREVIOUS: dict[str, Any] = {
        "policy": ChunkPolicy(overlap=32, table_rows=10**9),
        "reuse": False,
        "short_header": False,
        "batch": 64,
    }

    def __init__(
        self,
        embedder: TextEmbedder,
        *,
        policy: ChunkPolicy = DEFAULT_POLICY,
        batch: int = 512,
        reuse: bool = True,
        short_header: bool = True,
    ) -> None:
        self.embedder = embedder
        self.policy = policy
        self.batch = batch
        self.reuse = reuse
        self.short_header = short_header
        self._specials = embedder.count_tokens("")
        self._identity = str(getattr(embedder, "fingerprint", type(embedder).__name__))
        # Recorded with each indexed section: the chunking policy and which model embedded the
        # chunks (vectors from two encoders do not share a space, so a change of either means
        # a re-index). "name:graph digest" keeps the digest's first 8 hex digits.
        name, _, graph = self._identity.partition(":")
        self.version = f"{policy.version}+{name}" + (f":{graph[:8]}" if graph else "")
        self.reused = 0  # vectors taken from the cache instead of the model (last run)

    def count(self, text: str) -> int:
        """Tokens of ``text`` without the special tokens (additive over words)."""
        return self.embedder.count_tokens(text) - self._specials

    def pending(
        self,
        db: SyncDatabase,
        accessions: Sequence[str] | None,
        items: Sequence[str] | None = None,
    ) -> list[q.SectionTodo]:
        return db.read(q.pending_sections, self.version, accessions, items)

    def run(
        self,
        db: SyncDatabase,
        accessions: Sequence[str] | None = None,
        *,
        items: Sequence[str] | None = None,
        on_progress: Callable[[IndexProgress], None] | None = None,
        on_stored: Callable[[list[int], list[int]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> IndexResult:
        """Index every pending section (of ``accessions`` and ``items``, or all).

        Reads and the batches' writes go through ``db`` (the app's ``db.sync``, or a CLI
        session). ``on_stored(removed_ids, new_ids)`` is called after each committed batch
        (to keep the in-memory index in step).
        """
        started = time.perf_counter()
        todo = self.pending(db, accessions, items)
        progress = IndexProgress(sections_total=len(todo))
        result = IndexResult(0, 0, 0, 0.0)
        if on_progress:
            on_progress(progress)
        batch: list[_Pending] = []
        size = 0
        for s in todo:
            if should_stop and should_stop():
                break
            text = db.read(q.section_text, s.section_id)
            if text is None:  # re-imported meanwhile
                continue
            header = header_for(s)
            embed_header = embed_header_for(s) if self.short_header else header
            header_tokens = self.embedder.count_tokens(embed_header)
            pieces = chunk_text(text, self.count, self.policy, header_tokens=header_tokens)
            batch.append(_Pending(s, header, embed_header, pieces))
            size += len(pieces)
            if size >= self.batch:
                self._flush(batch, db, progress, result, on_progress, on_stored)
                batch, size = [], 0
        if batch:
            self._flush(batch, db, progress, result, on_progress, on_stored)
        result.seconds = time.perf_counter() - started
        return result

    def _vectors(
        self, texts: list[str], db: SyncDatabase
    ) -> tuple[np.ndarray, list[tuple[bytes, bytes]]]:
        """int8 codes for ``texts``: from the cache where present, else from the model (each
        distinct text embedded once). Returns the codes and the new ``(key, code)`` rows."""
        codes = np.zeros((len(texts), 384), dtype=np.int8)
        keys = [content_key(self._identity, t) for t in texts] if self.reuse else []
        cached = db.read(q.cached_embeddings, keys) if self.reuse else {}
        todo: dict[str, list[int]] = {}
        for i, t in enumerate(texts):
            hit = cached.get(keys[i]) if self.reuse else None
            if hit is not None:
                codes[i] = np.frombuffer(hit, dtype=np.int8)
                self.reused += 1
            else:
                todo.setdefault(t, []).append(i)
        distinct = list(todo)
        if distinct:
            # Similar lengths side by side: a batch pads to its longest text.
            distinct.sort(key=len)
            fresh = quantize(self.embedder.embed(distinct))
            for t, code in zip(distinct, fresh, strict=True):
                codes[todo[t]] = code
        if not self.reuse:
            return codes, []
        return codes, [(keys[todo[t][0]], codes[todo[t][0]].tobytes()) for t in distinct]

    def _flush(
        self,
        batch: list[_Pending],
        db: SyncDatabase,
        progress: IndexProgress,
        result: IndexResult,
        on_progress: Callable[[IndexProgress], None] | None,
        on_stored: Callable[[list[int], list[int]], None] | None,
    ) -> None:
        texts = [f"{p.embed_header}\n{c.text}" for p in batch for c in p.pieces]
        codes, cache_rows = self._vectors(texts, db)
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
        removed, new = db.write(_store_batch, rows, self.version, cache_rows)
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
    conn: Connection,
    rows: list[tuple[q.SectionTodo, list[q.NewChunk]]],
    policy: str,
    cache_rows: list[tuple[bytes, bytes]],
) -> tuple[list[int], list[int]]:
    removed: list[int] = []
    new: list[int] = []
    if cache_rows:
        q.store_embeddings(conn, cache_rows)
    for todo, chunks in rows:
        r, n = q.store_section(conn, todo.section_id, todo.accession, policy, chunks)
        removed += r
        new += n
    q.announce_chunks(conn, removed, new)
    return removed, new
