"""Noticing a client that hangs up while its billable request is being worked on.

Neither uvicorn nor Starlette cancels a handler when its client disconnects: the work would
run to the end, the answer would go nowhere, and the charge would stay. So while the work
runs, the request's ASGI ``receive`` channel is watched; once the body has been read, the only
message left on it is ``http.disconnect`` (sent when the connection drops). If it comes first,
the work is cancelled (an ``await`` on a model batch or a database read stops there; a thread
already running finishes on its own and its result is dropped) and :class:`ClientGone` is
raised inside the meter's work, so :meth:`appliance.billing.service.Billing.run` refunds the
charge (recorded as 499) through the same give-back as any refund. This is HTTP, so it lives in
the adapter (``@billable``), not in the meter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.requests import Request

from appliance.billing.errors import ClientGone

T = TypeVar("T")


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def until_hangup(request: Request, work: Callable[[], Awaitable[T]]) -> T:
    """``await work()``, unless the client disconnects first: then the work is cancelled and
    :class:`ClientGone` raised.

    The work runs in the request's own task and one watcher task cancels that task on a
    disconnect (one task per request, not two plus a wait: this is the billable hot path).
    The watcher only runs while the work is suspended, and is cancelled as soon as the work
    returns, so a cancellation it sends always lands inside ``work()``.
    """
    # Read (and cache) the whole body first, so the watcher never consumes a body message.
    await request.body()
    task = asyncio.current_task()
    assert task is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        await _disconnected(request)
        gone = True
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await work()
    except asyncio.CancelledError:
        if gone:
            task.uncancel()  # our own cancellation, turned into ClientGone
            raise ClientGone from None
        raise
    finally:
        watcher.cancel()
