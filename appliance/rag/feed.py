"""Keeping a replica's in-memory vector index in step with chunks other replicas index.

Every committed indexing batch announces its chunk ids (``queries/rag.announce_chunks``: a
NOTIFY on PostgreSQL, sent at commit). :class:`ChunkFeed` listens on a connection of its own
and applies each announcement to this replica's index (``Retriever.apply``: the rows are read
from the database, so a replica sees exactly what was committed), within a second or so of the
commit. Notifications are not stored: after a lost connection (or an announcement too large
for one notification) the index is re-synced from the table instead. Keyword search needs
nothing: on PostgreSQL it queries the shared tables.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from appliance.db.queries.rag import CHUNK_CHANNEL, parse_chunk_change

__all__ = ["ChunkFeed"]

log = logging.getLogger("appliance.rag")


class ChunkFeed:
    """A daemon thread LISTENing for chunk changes; ``apply(removed, new)`` for each one,
    ``resync()`` whenever announcements may have been missed (at (re)connection)."""

    def __init__(
        self,
        url: str,
        apply: Callable[[list[int], list[int]], None],
        resync: Callable[[], None],
        *,
        retry_seconds: float = 2.0,
    ) -> None:
        self.url = url
        self.apply = apply
        self.resync = resync
        self.retry_seconds = retry_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="chunk-feed", daemon=True)
        self.listening = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _main(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                self._listen(resync=not first)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("chunk feed lost its connection; re-syncing after reconnecting")
            self.listening.clear()
            first = False
            self._stop.wait(self.retry_seconds)

    def _listen(self, *, resync: bool) -> None:
        from appliance.db.postgres.connection import connect

        conn: Any = connect(self.url, application_name="appliance chunk feed")
        try:
            conn.execute(f"LISTEN {CHUNK_CHANNEL}")
            self.listening.set()
            if resync:  # what was announced while we were not listening
                self.resync()
            while not self._stop.is_set():
                for note in conn.notifies(timeout=1.0):
                    change = parse_chunk_change(note.payload)
                    if change is None:
                        self.resync()
                    else:
                        self.apply(*change)
        finally:
            conn.close()
