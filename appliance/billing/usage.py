"""Usage events: one per billable request that reached the spend (see migration 0002).

A spend inserts the event ('charged' or 'rejected'); the end of the request finishes it
(status code, duration) or refunds it (:func:`appliance.billing.quota.refund`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any, TextIO

from appliance.db.connection import Connection
from appliance.db.queries import billing as q

FIELDS = q.USAGE_FIELDS
FORMATS = ("csv", "jsonl")


def timestamp(moment: datetime) -> str:
    """The stored timestamp format (strftime('%Y-%m-%dT%H:%M:%fZ')), so filters compare as
    strings."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_moment(text: str) -> str:
    """A date (``2025-06-01``, midnight UTC) or an ISO 8601 datetime (naive means UTC), as a
    stored timestamp. Raises ValueError."""
    text = text.strip()
    if len(text) == 10:
        d = date.fromisoformat(text)
        return timestamp(datetime(d.year, d.month, d.day, tzinfo=UTC))
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return timestamp(moment)
    except OverflowError as exc:
        # Year 1 at +14:00 (or 9999 at -14:00) has no UTC equivalent; callers (pydantic
        # validators, the CLI) only turn ValueError into a clean 400 / usage message.
        raise ValueError(f"{text!r} is out of range once converted to UTC") from exc


def finish(
    conn: Connection,
    usage_id: int,
    status_code: int,
    duration_ms: float,
    stored: tuple[int, str, bytes, int] | None = None,
) -> None:
    """Record how a charged request ended; with ``stored`` = (user id, Idempotency-Key, body,
    credits remaining), keep its response for replays in the same transaction."""
    q.finish_usage(conn, usage_id, status_code, round(duration_ms, 3))
    if stored is not None:
        user_id, key, body, credits = stored
        q.idempotency_complete(conn, user_id, key, status_code, body, credits)


def write_export(rows: Iterable[dict[str, Any]], fmt: str, out: TextIO) -> int:
    """Write events as CSV (with a header) or JSON lines; returns how many."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    n = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            n += 1
    else:
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
            n += 1
    return n
