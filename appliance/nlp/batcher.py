"""An asyncio micro-batcher: concurrent single calls become one model call off the loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class BatcherClosed(RuntimeError):
    """The batcher was closed before this item ran."""


class MicroBatcher(Generic[T, R]):
    """Collect items for up to ``max_wait`` seconds (or ``max_batch`` items), then run
    ``fn(items) -> results`` once in a thread pool and hand each caller its own result.

    At most ``max_inflight`` batches run at once (the pool's size when the batcher makes its
    own); items arriving meanwhile queue up and form the next batch, so batches grow with
    load instead of calls piling up. ``fn`` never runs on the event loop. If ``fn`` raises,
    every caller of that batch gets the exception.
    """

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        *,
        max_batch: int = 32,
        max_wait: float = 0.005,
        max_inflight: int = 1,
        executor: Executor | None = None,
        name: str = "batcher",
    ) -> None:
        if max_batch < 1 or max_inflight < 1 or max_wait < 0:
            raise ValueError("max_batch and max_inflight must be >= 1, max_wait >= 0")
        self._fn = fn
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_inflight, thread_name_prefix=name)
        self._slots = asyncio.Semaphore(max_inflight)
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._wakeup = asyncio.Event()
        self._full = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._closed = False

    async def submit(self, item: T) -> R:
        """The result of ``fn`` for ``item``, computed in a batch with concurrent callers."""
        if self._closed:
            raise BatcherClosed("batcher is closed")
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._collect())
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, fut))
        self._wakeup.set()
        if len(self._pending) >= self._max_batch:
            self._full.set()
        return await fut

    async def submit_many(self, items: Sequence[T]) -> list[R]:
        return list(await asyncio.gather(*(self.submit(i) for i in items)))

    async def _collect(self) -> None:
        while True:
            await self._wakeup.wait()
            if not self._pending:
                self._wakeup.clear()
                continue
            if len(self._pending) < self._max_batch and self._max_wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self._max_wait)
            await self._slots.acquire()
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            if len(self._pending) < self._max_batch:
                self._full.clear()
            if not self._pending:
                self._wakeup.clear()
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            live = [(item, fut) for item, fut in batch if not fut.cancelled()]
            if not live:
                return
            loop = asyncio.get_running_loop()
            items = [item for item, _ in live]
            try:
                results = await loop.run_in_executor(self._executor, self._fn, items)
                if len(results) != len(items):
                    raise RuntimeError(f"batch fn returned {len(results)} results for {len(items)}")
            except Exception as exc:
                for _, fut in live:
                    if not fut.done():
                        fut.set_exception(exc)
                return
            for (_, fut), result in zip(live, results, strict=True):
                if not fut.done():
                    fut.set_result(result)
        finally:
            self._slots.release()

    async def aclose(self) -> None:
        """Stop collecting, let running batches finish, fail queued items."""
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        for _, fut in self._pending:
            if not fut.done():
                fut.set_exception(BatcherClosed("batcher closed before the item ran"))
        self._pending.clear()
        if self._own_executor:
            self._executor.shutdown(wait=True)
