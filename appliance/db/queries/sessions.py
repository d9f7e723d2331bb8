"""Console sessions (``console_sessions``): created at sign-in, looked up per request."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.db.connection import Connection
from appliance.db.queries import scalar


@dataclass(frozen=True)
class SessionRow:
    id: int
    user_id: int
    api_key_id: int | None
    csrf_token: str
    expires_at: str


def insert(
    conn: Connection,
    token_hash: str,
    csrf_token: str,
    user_id: int,
    api_key_id: int | None,
    expires_at: str,
) -> int:
    return int(
        scalar(
            conn,
            "INSERT INTO console_sessions (token_hash, csrf_token, user_id, api_key_id,"
            " expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
            (token_hash, csrf_token, user_id, api_key_id, expires_at),
        )
    )


def live(conn: Connection, token_hash: str, now: str) -> SessionRow | None:
    """The unexpired session of this token whose API key (if it came from one) is not
    revoked."""
    row = conn.execute(
        "SELECT s.id, s.user_id, s.api_key_id, s.csrf_token, s.expires_at"
        " FROM console_sessions s LEFT JOIN api_keys k ON k.id = s.api_key_id"
        " WHERE s.token_hash = ? AND s.expires_at > ?"
        " AND (s.api_key_id IS NULL OR k.revoked_at IS NULL)",
        (token_hash, now),
    ).fetchone()
    if row is None:
        return None
    return SessionRow(row[0], row[1], row[2], row[3], row[4])


def delete(conn: Connection, token_hash: str) -> int:
    return int(
        conn.execute("DELETE FROM console_sessions WHERE token_hash = ?", (token_hash,)).rowcount
    )


def purge_expired(conn: Connection, now: str) -> int:
    return int(conn.execute("DELETE FROM console_sessions WHERE expires_at <= ?", (now,)).rowcount)


def end_for_user(conn: Connection, user_id: int, *, password_only: bool) -> int:
    """End a user's console sessions: all of them (the user was disabled), or only those
    signed in with the password (it changed; a session made with an API key lasts as long as
    that key)."""
    sql = "DELETE FROM console_sessions WHERE user_id = ?"
    if password_only:
        sql += " AND api_key_id IS NULL"
    return int(conn.execute(sql, (user_id,)).rowcount)
