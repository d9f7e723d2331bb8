"""Redeemed offline license keys."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.db.connection import Connection
from appliance.db.queries import row_fields


@dataclass(frozen=True)
class Redemption:
    license_id: str
    key_id: str
    user_id: int | None
    credits: int
    issued_at: str
    expires: str | None
    redeemed_at: str


_COLS = "license_id, key_id, user_id, credits, issued_at, expires, redeemed_at"


def insert_redemption(
    conn: Connection,
    license_id: str,
    key_id: str,
    user_id: int,
    credits: int,
    issued_at: str,
    expires: str | None,
) -> Redemption | None:
    """The new redemption row, or None (nothing changed) when the license was redeemed before."""
    row = conn.execute(
        "INSERT INTO license_redemptions"
        " (license_id, key_id, user_id, credits, issued_at, expires)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (license_id) DO NOTHING"
        f" RETURNING {_COLS}",
        (license_id, key_id, user_id, credits, issued_at, expires),
    ).fetchone()
    return None if row is None else Redemption(**row_fields(row))
