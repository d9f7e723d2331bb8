"""Reader pool and single writer thread over one SQLite file.

Reads run on a small pool of threads, each with its own connection (WAL lets them read while
a write is in progress). Every write goes through one writer thread: queued write functions
are applied in ``BEGIN IMMEDIATE`` batches, each inside its own SAVEPOINT, and their callers
are answered only after the batch has committed. That is group commit: one fsync serves many
writes, and no two writers ever contend for the lock (SQLite's busy handler sleeps and polls,
which measured up to 3.9 s of waiting under 16 concurrent writers). A write function that
raises is rolled back to its savepoint alone; the rest of the batch still commits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

from appliance.db.connection import Connection, connect
from appliance.db.queries import meta
from appliance.db.storage import StorageFull, is_storage_error, storage_full

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger("appliance.db")

_STOP = object()
_MAX_BATCH = 512
F = TypeVar("F", bound=Callable[..., Any])


def self_contained(fn: F) -> F:
    """Mark a write function that is atomic by itself: it either changes nothing when it
    raises (one statement, which SQLite rolls back on its own) or wraps its several
    statements in its own savepoint. The writer then runs it without the per-write
    SAVEPOINT/RELEASE: two SQLite calls fewer, and each call hands the GIL to the event loop
    and back (the hot path of a billable request, see appliance/billing/quota.py)."""
    fn.__self_contained__ = True  # type: ignore[attr-defined]
    return fn


class _WriteJob:
    """A queued write. Its ``future`` is a concurrent.futures.Future (thread callers), an
    asyncio.Future resolved on ``loop`` (coroutines), or None (fire and forget: a failure is
    only logged)."""

    __slots__ = ("args", "fn", "future", "loop")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        future: concurrent.futures.Future[Any] | asyncio.Future[Any] | None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.fn = fn
        self.args = args
        self.future = future
        self.loop = loop

    def start(self) -> bool:
        """Whether to run the job: not when its caller already gave up (cancelled). From here
        on a thread caller can no longer cancel, so its result is always delivered."""
        future = self.future
        if isinstance(future, concurrent.futures.Future):
            return future.set_running_or_notify_cancel()
        # An asyncio future is only read here (a racy but harmless read: a caller cancelled a
        # moment later simply never sees the result); it is resolved on its own loop.
        return future is None or not future.cancelled()


def _deliver(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    """Runs on the event loop: resolve a whole batch's futures in one wake-up."""
    for future, ok, value in outcomes:
        if future.done():  # cancelled by its caller meanwhile
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class Database:
    """The app's handle on its SQLite file. Thread-safe; one per process and file."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        busy_timeout_ms: int = 5000,
        readers: int = 4,
        long_readers: int = 2,
        on_writer_stopped: Callable[[str], None] | None = None,
        on_storage: Callable[[StorageFull | None], None] | None = None,
    ) -> None:
        self.path = path
        # Told (with the reason) if the writer thread ever dies, so readiness can say so.
        self._on_writer_stopped = on_writer_stopped
        # Told when a write fails for lack of space (the error), and when one lands again
        # (None); see storage_full and probe_storage.
        self._on_storage = on_storage
        self.storage_full: StorageFull | None = None
        self._probed = float("-inf")
        self._writer_error: str | None = None
        self._connect_kwargs: dict[str, Any] = {
            "synchronous": synchronous,
            "busy_timeout_ms": busy_timeout_ms,
        }
        self._local = threading.local()
        self._reader_conns: list[Connection] = []
        self._reader_lock = threading.Lock()
        self._read_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=readers, thread_name_prefix="db-read"
        )
        # Long reads (a Q&A embeds its query and searches: tens of ms of CPU) get their own
        # threads, so a burst of them never queues the short reads every request needs
        # (authentication, quota) behind it.
        self._long_read_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=long_readers, thread_name_prefix="db-read-long"
        )
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._closed = False

    # ----- lifecycle -----
    def start(self) -> None:
        if self._writer is None:
            conn = connect(self.path, **self._connect_kwargs)
            self._writer = threading.Thread(
                target=self._write_loop, args=(conn,), name="db-writer", daemon=True
            )
            self._writer.start()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join(timeout=30)
        self._read_pool.shutdown(wait=True)
        self._long_read_pool.shutdown(wait=True)
        with self._reader_lock:
            for conn in self._reader_conns:
                with contextlib.suppress(Exception):
                    conn.close()
            self._reader_conns.clear()

    # ----- reads -----
    def _reader(self) -> Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True, **self._connect_kwargs)
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        return conn

    def _run_read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        return fn(self._reader(), *args)

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(conn, *args, **kwargs)`` on a reader thread, off the event loop."""
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, **kwargs) if kwargs else fn
        return await loop.run_in_executor(self._read_pool, self._run_read, call, args)

    async def read_long(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Like :meth:`read`, on the separate pool for long, CPU-heavy reads."""
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, **kwargs) if kwargs else fn
        return await loop.run_in_executor(self._long_read_pool, self._run_read, call, args)

    def read_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        call = functools.partial(fn, **kwargs) if kwargs else fn
        return self._read_pool.submit(self._run_read, call, args).result()

    # ----- writes -----
    def _put(self, job: _WriteJob) -> None:
        if self._closed:
            raise RuntimeError("database is closed")
        if self._writer_error is not None:
            # Queued, the write would wait forever: nothing reads the queue any more.
            raise RuntimeError(f"the database writer stopped: {self._writer_error}")
        if self._writer is None:
            self.start()
        self._queue.put(job)

    def probe_storage(self, every_seconds: float = 1.0) -> None:
        """While writes are failing for lack of space, queue a small real write (at most
        once a second): when it lands, the database is reported ready again."""
        now = time.monotonic()
        if self.storage_full is None or now - self._probed < every_seconds:
            return
        self._probed = now
        with contextlib.suppress(RuntimeError):
            self.enqueue(meta.put, "storage_probe", f"{time.time():.3f}")

    def _storage(self, full: StorageFull | None) -> None:
        if (full is None) == (self.storage_full is None):
            return
        self.storage_full = full
        if full is not None:
            log.error("writes fail: %s", full.message)
        else:
            log.warning("writes succeed again: the disk has room")
        if self._on_storage is not None:
            with contextlib.suppress(Exception):
                self._on_storage(full)

    @property
    def writer_alive(self) -> bool:
        return self._writer_error is None and (self._writer is None or self._writer.is_alive())

    def submit(
        self, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Queue ``fn(conn, *args, **kwargs)`` for the writer; it runs inside a transaction."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._put(_WriteJob(functools.partial(fn, **kwargs) if kwargs else fn, args, future))
        return future

    def submit_async(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Like :meth:`submit`, for the running event loop: the writer resolves all of a
        batch's futures with one ``call_soon_threadsafe``, instead of one cross-thread wake-up
        (and GIL hand-over) per write. Cancelling the future before the write has started
        skips it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        call = functools.partial(fn, **kwargs) if kwargs else fn
        self._put(_WriteJob(call, args, future, loop))
        return future

    def enqueue(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Queue a write nobody waits for (it is still applied in order); a failure is
        logged."""
        self._put(_WriteJob(functools.partial(fn, **kwargs) if kwargs else fn, args, None))

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.submit_async(fn, *args, **kwargs)

    def write_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.submit(fn, *args, **kwargs).result()

    def _write_loop(self, conn: Connection) -> None:
        batch: list[_WriteJob] = []
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                batch = [first]
                stop = False
                while len(batch) < _MAX_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    batch.append(item)
                try:
                    self._apply(conn, batch)
                except Exception as exc:
                    # _apply answers every job itself; this is the last guard, so one bad
                    # batch fails its callers instead of killing the thread (and every
                    # later write with it).
                    log.exception("write batch failed")
                    with contextlib.suppress(Exception):
                        conn.execute("ROLLBACK")
                    self._settle([(job, False, exc) for job in batch])
                if stop:
                    return
        except BaseException as exc:
            # Logged and reported (not re-raised: in a thread that only prints it again).
            self._writer_died(f"{type(exc).__name__}: {exc}", batch)
        finally:
            conn.close()

    def _writer_died(self, reason: str, batch: list[_WriteJob]) -> None:
        log.critical("the database writer thread stopped: %s", reason)
        self._writer_error = reason
        if self._on_writer_stopped is not None:
            with contextlib.suppress(Exception):
                self._on_writer_stopped(reason)
        # Fail the batch in hand and whatever is still queued rather than leave their
        # callers waiting (_settle skips the ones already answered).
        error = RuntimeError(f"the database writer stopped: {reason}")
        with contextlib.suppress(Exception):
            self._settle([(job, False, error) for job in batch])
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _WriteJob):
                with contextlib.suppress(Exception):
                    self._settle([(item, False, error)])

    def _apply(self, conn: Connection, batch: list[_WriteJob]) -> None:
        outcomes: list[tuple[_WriteJob, bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except Exception as exc:  # the file is gone or locked beyond busy_timeout
            self._settle([(job, False, exc) for job in batch if job.start()])
            return
        for n, job in enumerate(batch):
            # A caller that gave up before its write started (its task was cancelled) is
            # skipped; see _WriteJob.start. (Delivering to a cancelled concurrent future used
            # to raise here, killing this thread and hanging every later write.)
            if not job.start():
                continue
            try:
                ok, value = self._run_job(conn, job)
            except Exception as exc:  # the SAVEPOINT bookkeeping itself failed
                broken: BaseException | None = exc
                outcomes.append((job, False, exc))
            else:
                outcomes.append((job, ok, value))
                broken = None
            if broken is not None or not conn.in_transaction:
                # SQLite rolled the whole transaction back itself (disk full, I/O error, a
                # write that ran ROLLBACK): the batch's earlier writes are gone too, so every
                # job fails, including those that had returned; the rest never run.
                error = RuntimeError(
                    "the write batch was rolled back"
                    + (f": {broken}" if broken is not None else " by SQLite")
                )
                error.__cause__ = broken
                if broken is not None:
                    outcomes[-1] = (job, False, error)
                with contextlib.suppress(Exception):
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                log.error("write batch rolled back: %s", error)
                failed = [(j, False, value if not ok else error) for j, ok, value in outcomes]
                rest = [(j, False, error) for j in batch[n + 1 :] if j.start()]
                self._settle(failed + rest)
                return
        try:
            conn.execute("COMMIT")
        except Exception as exc:
            log.exception("write batch failed to commit")
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            self._settle([(job, False, exc if ok else value) for job, ok, value in outcomes])
            return
        if self.storage_full is not None and any(ok for _, ok, _ in outcomes):
            self._storage(None)
        self._settle(outcomes)

    @staticmethod
    def _run_job(conn: Connection, job: _WriteJob) -> tuple[bool, Any]:
        """(True, result) or (False, the exception) for one write, inside its own SAVEPOINT
        unless it is self-contained. Raises only when the savepoint handling fails."""
        if getattr(job.fn, "__self_contained__", False):
            try:
                return True, job.fn(conn, *job.args)
            except BaseException as exc:
                return False, exc
        conn.execute("SAVEPOINT w")
        try:
            result = job.fn(conn, *job.args)
        except BaseException as exc:
            if conn.in_transaction:  # else SQLite already rolled everything back
                conn.execute("ROLLBACK TO w")
                conn.execute("RELEASE w")
            return False, exc
        conn.execute("RELEASE w")
        return True, result

    def _settle(self, outcomes: list[tuple[_WriteJob, bool, Any]]) -> None:
        """Answer each caller once its batch has committed (or failed). A failure for lack of
        space reaches the caller as :class:`StorageFull` (503 storage_full)."""
        if any(not ok and is_storage_error(value) for _, ok, value in outcomes):
            self._storage(storage_full(self.path.parent))
            # Each caller gets its own exception object (handlers add headers to theirs).
            outcomes = [
                (job, ok, storage_full(self.path.parent, value))
                if not ok and is_storage_error(value)
                else (job, ok, value)
                for job, ok, value in outcomes
            ]
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for job, ok, value in outcomes:
            future = job.future
            if isinstance(future, concurrent.futures.Future):
                if future.done():  # answered already, or cancelled before it started
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
            elif future is None:
                if not ok:
                    log.error("a queued write failed", exc_info=value)
            else:
                assert job.loop is not None
                by_loop.setdefault(job.loop, []).append((future, ok, value))
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting
                loop.call_soon_threadsafe(_deliver, items)
