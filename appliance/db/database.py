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
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

from appliance.db.connection import Connection, connect

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger("appliance.db")

_STOP = object()
_MAX_BATCH = 512


class _WriteJob:
    __slots__ = ("args", "fn", "future")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()


class Database:
    """The app's handle on its SQLite file. Thread-safe; one per process and file."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        busy_timeout_ms: int = 5000,
        readers: int = 4,
    ) -> None:
        self.path = path
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

    def read_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        call = functools.partial(fn, **kwargs) if kwargs else fn
        return self._read_pool.submit(self._run_read, call, args).result()

    # ----- writes -----
    def submit(
        self, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Queue ``fn(conn, *args, **kwargs)`` for the writer; it runs inside a transaction."""
        if self._closed:
            raise RuntimeError("database is closed")
        if self._writer is None:
            self.start()
        job = _WriteJob(functools.partial(fn, **kwargs) if kwargs else fn, args)
        self._queue.put(job)
        return job.future

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def write_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.submit(fn, *args, **kwargs).result()

    def _write_loop(self, conn: Connection) -> None:
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
                self._apply(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _apply(self, conn: Connection, batch: list[_WriteJob]) -> None:
        outcomes: list[tuple[_WriteJob, bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except Exception as exc:  # the file is gone or locked beyond busy_timeout
            for job in batch:
                if job.future.set_running_or_notify_cancel():
                    job.future.set_exception(exc)
            return
        for job in batch:
            # A caller that gave up (its asyncio task was cancelled) cancels a job that has not
            # started: skip it. Marking the rest running makes cancel() fail from here on, so a
            # job that ran always delivers its result and set_result can never raise (which
            # would kill this thread and hang every later write).
            if not job.future.set_running_or_notify_cancel():
                continue
            conn.execute("SAVEPOINT w")
            try:
                result = job.fn(conn, *job.args)
            except BaseException as exc:
                conn.execute("ROLLBACK TO w")
                conn.execute("RELEASE w")
                outcomes.append((job, False, exc))
            else:
                conn.execute("RELEASE w")
                outcomes.append((job, True, result))
        try:
            conn.execute("COMMIT")
        except Exception as exc:
            log.exception("write batch failed to commit")
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            for job, ok, value in outcomes:
                job.future.set_exception(exc if ok else value)
            return
        for job, ok, value in outcomes:
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
