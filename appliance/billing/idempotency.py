"""``Idempotency-Key``: a retried billable request is answered once and charged once.

The first request with a key (per user) records the key with a hash of its endpoint and body;
when it succeeds, its response is stored with it and every later request with the same key
and body gets that response again, without a charge. A different body under the same key is
refused (422 ``idempotency_key_reused``). A request that failed was refunded and its key
released (:func:`appliance.billing.quota.refund`), so a retry runs again.

Concurrent duplicates inside this process wait for the first (:class:`InFlight`); the database
row catches the rest (after a restart, or a request still running elsewhere: 409).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass

from appliance.db.connection import Connection
from appliance.db.queries import billing as q
from appliance.errors import InvalidPayload

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def validate_key(raw: str) -> str:
    """The key as sent; 400 (costing nothing) unless it is 1-255 visible ASCII characters."""
    if not _KEY.match(raw):
        raise InvalidPayload(
            "Idempotency-Key must be 1-255 visible ASCII characters",
            details=[{"field": "Idempotency-Key", "error": "invalid header"}],
        )
    return raw


def body_hash(endpoint: str, body: bytes) -> str:
    return hashlib.sha256(endpoint.encode() + b"\n" + body).hexdigest()


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: bytes
    credits_remaining: int | None


@dataclass(frozen=True)
class KeyReused:
    pass


@dataclass(frozen=True)
class KeyBusy:
    pass


def lookup(
    conn: Connection, user_id: int, key: str, endpoint: str, digest: str, expires_before: str
) -> Replay | KeyReused | KeyBusy | None:
    """What an existing record says about this request; None when the key is free (never
    used, or its record expired and was dropped here)."""
    record = q.idempotency_get(conn, user_id, key)
    if record is None:
        return None
    if record.created_at < expires_before:
        q.idempotency_delete(conn, user_id, key)
        return None
    if record.endpoint != endpoint or record.body_hash != digest:
        return KeyReused()
    if record.state == "done" and record.status_code is not None and record.response is not None:
        return Replay(record.status_code, record.response, record.credits_remaining)
    return KeyBusy()


class InFlight:
    """The keyed requests this process is running, so that a duplicate waits for the first
    instead of racing it. Used from the event loop only."""

    def __init__(self) -> None:
        self._running: dict[tuple[int, str], asyncio.Event] = {}

    def claim(self, slot: tuple[int, str]) -> asyncio.Event | None:
        """None when the caller is now the first for ``slot`` (it must :meth:`release` it);
        otherwise the event the first sets when it is done."""
        running = self._running.get(slot)
        if running is None:
            self._running[slot] = asyncio.Event()
        return running

    def release(self, slot: tuple[int, str]) -> None:
        self._running.pop(slot).set()

    def __len__(self) -> int:
        return len(self._running)
