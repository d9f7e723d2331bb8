"""Noticing a client that hangs up while its billable request is being worked on.

Neither uvicorn nor Starlette cancels a handler when its client disconnects: the work would
run to the end, the answer would go nowhere, and the charge would stay. So while the work
runs, the request's ASGI ``receive`` channel is watched; once the body has been read, the only
message left on it is ``http.disconnect`` (sent when the connection drops). If it comes first,
the work is cancelled (an ``await`` on a model batch or a database read stops there; a thread
already running finishes on its own and its result is dropped) and :class:`ClientGone` is
raised for the caller to refund.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.requests import Request

T = TypeVar("T")


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def until_hangup(request: Request, work: Callable[[], Awaitable[T]]) -> T:
    """``await work()``, unless the client disconnects first: then the work is cancelled and
    :class:`ClientGone` raised. Cancelling the caller cancels the work too."""
    # Read (and cache) the whole body first, so the watcher never consumes a body message.
    await request.body()
    task = asyncio.ensure_future(work())
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        watcher.cancel()
        raise
    if task.done():
        watcher.cancel()
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise ClientGone
