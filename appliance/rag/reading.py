"""The reader's passage vectors, stored by content: filled in by the indexer's worker while
it is idle, read by every search that reranks.

The reranking stage's reader (all-mpnet-base-v2) costs about 35 ms a passage on 2 cores, so
reading the top 8 candidates of each question at query time costs about 0.3 s. But a
passage's vector does not depend on the question: the worker computes it once per indexed
passage and stores it int8 in ``embedding_cache`` under the reader's content key (the table
and keying of the MiniLM vectors, so a passage repeated across a company's yearly filings is
read once, and a rebuilt reader graph never reads an older graph's vectors). A search then
runs only the question through the reader. Indexing itself is not slowed: the worker fills
the vectors after its jobs, a page at a time, and a passage not read yet is read at query
time, as before.

Replicas on one PostgreSQL share the stored vectors, and would each read the same passages at
once (they start together and walk in the same order): the replica holding the
``read_ahead`` lease (``background_leases``) reads, renewing it at each page, and the others
wait, taking over when it gives the lease up (caught up) or stops renewing it (died).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from appliance.db.connection import Connection
from appliance.db.database import SyncDatabase
from appliance.db.queries import leases
from appliance.db.queries import rag as q
from appliance.rag.embedding import PassageEncoder, content_key
from appliance.rag.vectors import dequantize, quantize

__all__ = ["PassageVectors"]

_LEASE = "read_ahead"  # the name of the replicas' lease on reading ahead

F32 = npt.NDArray[np.float32]


class PassageVectors:
    """The stored passage vectors of one :class:`PassageEncoder`.

    :meth:`stored` is what a search reads; :meth:`fill` is the worker's background step. The
    worker walks the chunks in id order with a cursor: chunks indexed later get higher ids,
    so one pass plus a look at the new ids after each job covers every passage, and a restart
    walks the table once more (cheap: only passages without a stored vector are read).
    """

    # A page is one step of the worker's background work: a job queued meanwhile waits for
    # the step to end (8 passages: about a quarter of a second on 2 cores).
    def __init__(
        self, encoder: PassageEncoder, *, page: int = 8, lease_seconds: float = 30.0
    ) -> None:
        self.encoder = encoder
        self.page = page
        self.lease_seconds = lease_seconds  # a holder that stops renewing loses it after this
        self.elsewhere = False  # another replica holds the lease: it reads ahead, not this one
        self._after = 0  # the highest chunk id walked so far
        self.read = 0  # passages read by the model since start
        self.caught_up = False  # the walk reached the last chunk (until more are indexed)
        self._lock = threading.Lock()  # one filler at a time (the worker; tests call it too)

    def keys(self, passages: Sequence[str]) -> list[bytes]:
        return [content_key(self.encoder.fingerprint, p) for p in passages]

    def stored(self, conn: Connection, passages: Sequence[str]) -> dict[str, F32]:
        """The stored unit vectors of those ``passages`` that have one, by passage text."""
        texts = list(dict.fromkeys(passages))
        keys = self.keys(texts)
        found = q.cached_embeddings(conn, keys)
        have = [(t, found[k]) for t, k in zip(texts, keys, strict=True) if k in found]
        if not have:
            return {}
        codes = np.frombuffer(b"".join(code for _, code in have), np.int8).reshape(len(have), -1)
        return dict(zip((t for t, _ in have), dequantize(codes), strict=True))

    def fill(self, db: SyncDatabase, holder: str | None = None) -> int:
        """Walk the next page of chunks and store the vectors of those that have none yet.

        ``holder``: this replica's id where replicas share the database (PostgreSQL); the page
        is walked only under the ``read_ahead`` lease. Returns the number of chunks walked (0:
        every indexed passage has been walked, until the next chunks are indexed, or another
        replica is reading ahead).
        """
        with self._lock:
            # Read first: an idle poll (nothing new) costs one read and no lease writes.
            rows = db.read(q.chunk_texts_after, self._after, self.page)
            if not rows:
                if holder is not None and not self.caught_up:
                    db.write(leases.release, _LEASE, holder)  # walked to the end under it
                self.caught_up = True
                return 0
            self.caught_up = False
            if holder is not None:
                self.elsewhere = not db.write(leases.take, _LEASE, holder, self.lease_seconds)
                if self.elsewhere:
                    return 0
            texts = list(dict.fromkeys(text for _, text in rows))
            keys = self.keys(texts)
            present = db.read(q.cached_embeddings, keys)
            todo = [(t, k) for t, k in zip(texts, keys, strict=True) if k not in present]
            if todo:
                codes = quantize(self.encoder.encode([t for t, _ in todo]))
                db.write(
                    q.store_embeddings,
                    [(k, code.tobytes()) for (_, k), code in zip(todo, codes, strict=True)],
                )
                self.read += len(todo)
            self._after = rows[-1][0]
            return len(rows)

    def fill_all(self, db: SyncDatabase) -> int:
        """Fill until every indexed passage has a vector (the benchmarks, the tests' template
        index); returns the passages read by the model."""
        before = self.read
        while self.fill(db):
            pass
        return self.read - before
