"""The index worker: one named background thread working through a durable job queue.

Three things index filings, each named for its part: :class:`appliance.rag.index.Indexer`
(the library core: sections in, chunks + vectors + keyword rows out), :class:`IndexWorker`
(this module: the server's thread that runs queued jobs through it) and ``appliance index``
(the CLI, offline: the same core, synchronously). Jobs reach the worker through one door,
:meth:`appliance.rag.service.RagService.enqueue` (another process writes the same queue row).

Jobs live in ``index_jobs`` (queued -> running -> done | failed, with progress counts,
error text and timestamps), so they survive a restart: a job left ``running`` by a crash or
a stop is queued again at start-up, and because indexing skips every section already
stored, it resumes where it stopped instead of starting over.

The thread never touches the event loop. It embeds chunks itself (onnxruntime releases the
GIL while it computes) and writes through the app's single writer in small batches, one
transaction per batch of sections, so API readers never wait long behind it. After each
committed batch the in-memory vector index is updated, so new filings become searchable as
they are indexed, not only when the job ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from appliance.db.connection import Connection
from appliance.db.database import Database
from appliance.db.queries import jobs as jq
from appliance.db.queries import progress as progress_q
from appliance.errors import ApplianceError
from appliance.rag.index import Indexer, IndexProgress
from appliance.rag.retrieve import Retriever

__all__ = ["Acquire", "Acquired", "IndexWorker", "JobContext", "NothingToIndex"]

log = logging.getLogger("appliance.indexer")
_MAX_ROUNDS = 20  # an "everything" job re-checks for new filings at most this often


@dataclass
class Acquired:
    """What getting a ticker's filings produced: where from, and which filings to index."""

    source: str  # "edgar" | "inbox" | "database"
    accessions: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


class NothingToIndex(Exception):
    """A ticker job found no filings at all; the message says what to do (the job fails)."""


@dataclass
class JobContext:
    job: jq.Job
    report: Callable[[str], None]  # a phase or status line for the job's progress


# Gets a ticker's filings (fetch from EDGAR or import the inbox) and names them.
Acquire = Callable[[JobContext], Acquired]


class IndexWorker:
    """Runs queued jobs one at a time on a daemon thread named ``indexer``.

    With no ``indexer`` (no embedding model) the thread loads the index for keyword search
    and leaves jobs queued for a start that has the model.
    """

    def __init__(
        self,
        db: Database,
        retriever: Retriever,
        indexer: Indexer | None,
        acquire: Acquire,
        *,
        poll_seconds: float = 2.0,
        on_ready: Callable[[int], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
        index_pending_on_start: bool = True,
        index_new_imports: bool = False,
        paused: bool = False,
        on_change: Callable[[], None] | None = None,
        lease_seconds: float = 60.0,
        background: Callable[[], int] | None = None,
    ) -> None:
        self.db = db
        self.retriever = retriever
        self.indexer = indexer
        self.acquire = acquire
        self.poll_seconds = poll_seconds
        self.on_ready = on_ready
        self.on_failure = on_failure
        self.index_pending_on_start = index_pending_on_start
        self.index_new_imports = index_new_imports
        self.paused = paused  # jobs are queued but not run (setting index_paused)
        self.on_change = on_change
        self.lease_seconds = lease_seconds
        # Work done a small step at a time while no job waits (the reader's passage vectors,
        # rag.reading): returns how much it did, 0 when there is nothing left to do.
        self.background = background
        self._background_failed = False
        self._background_busy = False
        self._followed_at = 0.0
        self._filings = 0  # imported filings last seen (imports by other processes show here)
        self._changed_at = 0.0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()
        self.current: int | None = None

    # ----- lifecycle -----
    def load(self) -> int:
        """Re-queue interrupted jobs and load the vector index (start-up, before serving)."""
        resumed = self.db.sync.write(jq.requeue_interrupted)
        if resumed:
            log.info("re-queued %d interrupted indexing job(s)", resumed)
        loaded: int = self.db.sync.read(self.retriever.load)
        log.info("vector index loaded: %d chunks", loaded)
        self._filings = self.db.sync.read(progress_q.filing_count)
        if self.indexer is not None and self.index_pending_on_start:
            # Queued before the app serves: a question asked the moment /readyz turns 200
            # already sees the job (503 index_building), not an empty index.
            self._queue_pending()
        self.ready.set()
        if self.on_ready:
            self.on_ready(loaded)
        return loaded

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._main, name="indexer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop after the batch in progress; a running job is re-queued."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("indexer did not stop within %.0f s", timeout)
            self._thread = None

    def wake(self) -> None:
        """A job was queued: look now instead of at the next poll."""
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ----- the thread -----
    def _main(self) -> None:
        try:
            if not self.ready.is_set():
                self.load()
            if self.indexer is None:
                return
        except Exception as exc:
            log.exception("indexer failed to start")
            if self.on_failure:
                self.on_failure(f"{type(exc).__name__}: {exc}")
            return
        while not self._stop.is_set():
            try:
                job = (
                    None
                    if self.paused
                    else self.db.sync.write(jq.claim_next, self.db.replica_id, self.lease_seconds)
                )
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("could not read the job queue")
                self._stop.wait(self.poll_seconds)
                continue
            if job is None:
                if self._background_step():
                    if time.monotonic() - self._followed_at >= self.poll_seconds:
                        self._follow_other_writers()
                    continue  # look at the queue again before the next step
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                self._follow_other_writers()
                continue
            self._run(job)
            self._changed(force=True)

    def _background_step(self) -> bool:
        """One step of the background work, unless paused; whether it did anything."""
        if self.background is None or self.paused:
            return False
        try:
            did = self.background() > 0
            if did or self._background_busy:
                self._changed(force=not did)  # /readyz says when it is done
            self._background_busy = did
        except Exception:
            if not self._stop.is_set():
                # The traceback once; a step that keeps failing is not logged every poll.
                if not self._background_failed:
                    log.exception("background step failed; retrying at each poll")
                self._background_failed = True
            return False
        self._background_failed = False
        return did

    def _queue_pending(self) -> bool:
        """Queue an "index everything not indexed yet" job when anything is waiting."""
        assert self.indexer is not None
        if not self.db.sync.read(_pending_count, self.indexer):
            return False
        self.db.sync.write(jq.enqueue, jq.ALL, None, None)
        return True

    def _follow_other_writers(self) -> None:
        """Work done by other processes shows here too, while idle: chunks indexed by
        ``appliance index`` become searchable (re-sync when the counts differ), and filings
        imported by ``appliance filings import|fetch`` are queued for indexing."""
        self._followed_at = time.monotonic()
        try:
            stored = self.db.sync.read(_chunk_count)
            changed = stored != len(self.retriever.index)
            if changed:
                self.db.sync.read(self.retriever.sync)
            filings = self.db.sync.read(progress_q.filing_count)
            if filings != self._filings:
                self._filings = filings
                changed = True
                self.db.sync.read(self.retriever.refresh)
                if self.index_new_imports and self.indexer is not None and self._queue_pending():
                    log.info("new filings imported: indexing them")
                    self._wake.set()
            if changed:
                self._changed(force=True)
        except Exception:
            log.exception("could not follow other writers")

    def changed(self) -> None:
        """Another replica changed the index (the chunk feed): report it, at most once a
        second."""
        self._changed()

    def _changed(self, *, force: bool = False) -> None:
        """Tell the service the index moved (its /readyz line), at most once a second."""
        now = time.monotonic()
        if self.on_change is None or (not force and now - self._changed_at < 1.0):
            return
        self._changed_at = now
        try:
            self.on_change()
        except Exception:
            log.exception("could not report the index state")

    def _renew_lease(self, job_id: int, done: threading.Event) -> None:
        """While a job runs, renew its lease well before it expires (other replicas would
        take the job for abandoned and claim it again)."""
        while not done.wait(self.lease_seconds / 3):
            try:
                self.db.sync.write(jq.renew_lease, job_id, self.lease_seconds)
            except Exception:
                log.exception("could not renew the lease of job %d", job_id)

    def _run(self, job: jq.Job) -> None:
        done = threading.Event()
        renewer = threading.Thread(
            target=self._renew_lease, args=(job.id, done), name="indexer-lease", daemon=True
        )
        renewer.start()
        try:
            self._run_job(job)
        finally:
            done.set()
            renewer.join()

    def _run_job(self, job: jq.Job) -> None:
        assert self.indexer is not None
        indexer = self.indexer
        self.current = job.id
        log.info("indexing job %d (%s) started", job.id, job.ticker)
        try:
            if job.ticker == jq.ALL:
                accessions: Sequence[str] | None = None
                self.db.sync.write(_progress, job.id, "indexing", "database")
            else:

                def report(phase: str) -> None:
                    self.db.sync.write(_progress, job.id, phase)

                got = self.acquire(JobContext(job, report))
                accessions = got.accessions
                self.db.sync.write(_progress, job.id, "indexing", got.source, len(got.accessions))
                self._filings = self.db.sync.read(progress_q.filing_count)
            if self._stop.is_set():
                self.db.sync.write(jq.requeue, job.id)
                return

            before = IndexProgress()  # what earlier rounds of this job did
            seen: set[str] = set()

            def on_progress(p: IndexProgress) -> None:
                seen.update(p.filings)
                self.db.sync.write(
                    _counts,
                    job.id,
                    before.sections_done + p.sections_done,
                    before.sections_total + p.sections_total,
                    len(seen),
                    before.chunks + p.chunks,
                )
                self._changed()

            def on_stored(removed: list[int], new: list[int]) -> None:
                self.db.sync.read(self.retriever.apply, removed, new)

            # An "everything" job runs until nothing is left: filings imported while it ran
            # (the CLI beside the server) are indexed by it, not left waiting for the next.
            cancelled = _CancelWatch(self.db, job.id)
            for round_ in range(_MAX_ROUNDS if accessions is None else 1):
                if round_ and not self.db.sync.read(_pending_count, indexer):
                    break
                self.db.sync.read(self.retriever.refresh)
                result = indexer.run(
                    self.db.sync,
                    accessions,
                    on_progress=on_progress,
                    on_stored=on_stored,
                    should_stop=lambda: self._stop.is_set() or cancelled(),
                )
                before.sections_done += result.sections
                before.sections_total += result.sections
                before.chunks += result.chunks
                if not result.sections or self._stop.is_set() or cancelled.seen:
                    break
            if cancelled.seen:
                self.db.sync.write(jq.finish, job.id, "failed", jq.CANCELLED)
                log.info("indexing job %d cancelled by the operator", job.id)
                return
            if self._stop.is_set():
                self.db.sync.write(jq.requeue, job.id)
                log.info("indexing job %d interrupted by shutdown; it will resume", job.id)
                return
            self.db.sync.write(jq.finish, job.id, "done")
            log.info("indexing job %d done", job.id)
        except NothingToIndex as exc:
            log.warning("indexing job %d (%s) failed: %s", job.id, job.ticker, exc)
            self.db.sync.write(jq.finish, job.id, "failed", str(exc))
        except Exception as exc:
            if isinstance(exc, (ApplianceError, OSError)):
                # Expected (EDGAR unreachable offline, a refused file): one line, no traceback.
                log.error("indexing job %d failed: %s", job.id, getattr(exc, "message", exc))
            else:
                log.exception("indexing job %d failed", job.id)
            try:
                self.db.sync.write(jq.finish, job.id, "failed", f"{type(exc).__name__}: {exc}")
            except Exception:
                log.exception("could not record the failure of job %d", job.id)
        finally:
            self.current = None


class _CancelWatch:
    """Whether ``appliance jobs cancel`` asked to stop the job; reads the database at most
    once a second, however often the indexer asks."""

    def __init__(self, db: Database, job_id: int, every: float = 1.0) -> None:
        self.db, self.job_id, self.every = db, job_id, every
        self.seen = False
        self._checked = float("-inf")

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.seen and now - self._checked >= self.every:
            self._checked = now
            self.seen = self.db.sync.read(jq.cancel_requested, self.job_id)
        return self.seen


def _chunk_count(conn: Connection) -> int:
    from appliance.db.queries import rag as rq

    return rq.chunk_count(conn)


def _pending_count(conn: Connection, indexer: Indexer) -> int:
    from appliance.db.queries import rag as rq

    return len(rq.pending_sections(conn, indexer.version))


def _progress(
    conn: Connection, job_id: int, phase: str, source: str | None = None, filings: int | None = None
) -> None:
    jq.progress(conn, job_id, phase=phase, source=source, filings=filings)


def _counts(
    conn: Connection, job_id: int, done: int, total: int, filings: int, chunks: int
) -> None:
    jq.progress(conn, job_id, done=done, total=total, filings=filings, chunks=chunks)
