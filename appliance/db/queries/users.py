"""Users and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.db.connection import Connection
from appliance.db.queries import row_fields, scalar
from appliance.db.queries import sessions as sessions_q


@dataclass(frozen=True)
class User:
    id: int
    email: str
    is_admin: bool
    plan: str
    quota_remaining: int  # the purchased balance
    quota_monthly: int
    created_at: str
    allowance_remaining: int = 0
    allowance_period: str | None = None
    disabled_at: str | None = None
    tokens_valid_after: int = 0

    def public(self) -> dict[str, Any]:
        """Who the user is; their balances come from :func:`appliance.accounts.user_json`."""
        return {
            "id": self.id,
            "email": self.email,
            "is_admin": self.is_admin,
            "disabled": self.disabled_at is not None,
            "created_at": self.created_at,
        }


_USER_COLS = (
    "id, email, is_admin, plan, quota_remaining, quota_monthly, created_at,"
    " allowance_remaining, allowance_period, disabled_at, tokens_valid_after"
)


def _user(row: Any) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        is_admin=bool(row["is_admin"]),
        plan=row["plan"],
        quota_remaining=row["quota_remaining"],
        quota_monthly=row["quota_monthly"],
        created_at=row["created_at"],
        allowance_remaining=row["allowance_remaining"],
        allowance_period=row["allowance_period"],
        disabled_at=row["disabled_at"],
        tokens_valid_after=row["tokens_valid_after"],
    )


def insert_user(
    conn: Connection,
    email: str,
    password_hash: str | None,
    *,
    is_admin: bool = False,
    plan: str = "free",
    quota_monthly: int = 10,
) -> User:
    """A user with no purchased credits (a grant is a ledger row: billing.ledger).
    Raises IntegrityError when the e-mail exists."""
    row = conn.execute(
        f"INSERT INTO users (email, password_hash, is_admin, plan, quota_monthly)"
        f" VALUES (?, ?, ?, ?, ?) RETURNING {_USER_COLS}",
        (email, password_hash, int(is_admin), plan, quota_monthly),
    ).fetchone()
    return _user(row)


def by_id(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(f"SELECT {_USER_COLS} FROM users WHERE id = ?", (user_id,)).fetchone()
    return None if row is None else _user(row)


def by_email(conn: Connection, email: str) -> User | None:
    row = conn.execute(f"SELECT {_USER_COLS} FROM users WHERE email = ?", (email,)).fetchone()
    return None if row is None else _user(row)


def password_hash(conn: Connection, email: str) -> tuple[User, str | None] | None:
    row = conn.execute(
        f"SELECT {_USER_COLS}, password_hash FROM users WHERE email = ?", (email,)
    ).fetchone()
    return None if row is None else (_user(row), row["password_hash"])


def list_users(conn: Connection, *, limit: int = 100, offset: int = 0) -> list[User]:
    rows = conn.execute(
        f"SELECT {_USER_COLS} FROM users ORDER BY id LIMIT ? OFFSET ?", (limit, offset)
    ).fetchall()
    return [_user(r) for r in rows]


def count_admins(conn: Connection) -> int:
    return int(scalar(conn, "SELECT count(*) FROM users WHERE is_admin = 1"))


def count_active_admins(conn: Connection) -> int:
    """Admins that can still sign in (not disabled)."""
    return int(
        scalar(conn, "SELECT count(*) FROM users WHERE is_admin = 1 AND disabled_at IS NULL")
    )


def set_disabled(conn: Connection, user_id: int, disabled: bool) -> bool:
    """Disable (ending every access token and console session) or enable a user; False when
    nothing changed.

    Tokens carry whole seconds: every token issued up to the end of this second is refused,
    and POST /auth/token never dates a new token before ``tokens_valid_after``."""
    if disabled:
        cur = conn.execute(
            "UPDATE users SET disabled_at = strftime('%Y-%m-%dT%H:%M:%fZ'),"
            " tokens_valid_after = CAST(strftime('%s', 'now') AS INTEGER) + 1,"
            " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ')"
            " WHERE id = ? AND disabled_at IS NULL",
            (user_id,),
        )
        sessions_q.end_for_user(conn, user_id, password_only=False)
    else:
        cur = conn.execute(
            "UPDATE users SET disabled_at = NULL, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ')"
            " WHERE id = ? AND disabled_at IS NOT NULL",
            (user_id,),
        )
    return bool(cur.rowcount)


def set_password(conn: Connection, user_id: int, password_hash: str | None) -> None:
    """A new password (None: none); every access token issued before it is refused and the
    console sessions signed in with the old one end."""
    conn.execute(
        "UPDATE users SET password_hash = ?,"
        " tokens_valid_after = CAST(strftime('%s', 'now') AS INTEGER) + 1,"
        " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ') WHERE id = ?",
        (password_hash, user_id),
    )
    sessions_q.end_for_user(conn, user_id, password_only=True)


def history(conn: Connection, user_id: int) -> tuple[int, int]:
    """(usage events, ledger entries) recorded for the user: their money history."""
    usage = scalar(conn, "SELECT count(*) FROM usage_events WHERE user_id = ?", (user_id,))
    ledger = scalar(conn, "SELECT count(*) FROM credit_ledger WHERE user_id = ?", (user_id,))
    return int(usage), int(ledger)


def delete_user(conn: Connection, user_id: int) -> None:
    """Delete the user; keys, usage, ledger and idempotency rows go with it (cascades)."""
    conn.execute("DELETE FROM users WHERE id = ?", (user_id,))


# ----- API keys -----


@dataclass(frozen=True)
class ApiKey:
    id: int
    user_id: int
    prefix: str
    name: str | None
    created_at: str
    last_used_at: str | None
    revoked_at: str | None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prefix": self.prefix,
            "name": self.name,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "revoked": self.revoked_at is not None,
            "revoked_at": self.revoked_at,
        }


_KEY_COLS = "id, user_id, prefix, name, created_at, last_used_at, revoked_at"


def _key(row: Any) -> ApiKey:
    return ApiKey(**row_fields(row))


def insert_key(
    conn: Connection, user_id: int, prefix: str, key_hash: str, name: str | None
) -> ApiKey:
    row = conn.execute(
        f"INSERT INTO api_keys (user_id, prefix, key_hash, name) VALUES (?, ?, ?, ?)"
        f" RETURNING {_KEY_COLS}",
        (user_id, prefix, key_hash, name),
    ).fetchone()
    return _key(row)


def list_all_keys(conn: Connection) -> list[tuple[str, ApiKey]]:
    """Every API key with its owner's e-mail, by owner then key."""
    rows = conn.execute(
        f"SELECT u.email AS owner, {', '.join('k.' + c for c in _KEY_COLS.split(', '))}"
        " FROM api_keys k JOIN users u ON u.id = k.user_id ORDER BY u.id, k.id"
    ).fetchall()
    found = []
    for row in rows:
        fields = row_fields(row)
        owner = fields.pop("owner")
        found.append((str(owner), ApiKey(**fields)))
    return found


def list_keys(conn: Connection, user_id: int) -> list[ApiKey]:
    rows = conn.execute(
        f"SELECT {_KEY_COLS} FROM api_keys WHERE user_id = ? ORDER BY id", (user_id,)
    ).fetchall()
    return [_key(r) for r in rows]


def key_by_id(conn: Connection, key_id: int) -> ApiKey | None:
    row = conn.execute(f"SELECT {_KEY_COLS} FROM api_keys WHERE id = ?", (key_id,)).fetchone()
    return None if row is None else _key(row)


def user_by_key_hash(conn: Connection, key_hash: str) -> tuple[User, int] | None:
    """The owner of a live (not revoked) key, and the key id."""
    row = conn.execute(
        f"SELECT {', '.join('u.' + c for c in _USER_COLS.split(', '))}, k.id AS key_id"
        " FROM api_keys k JOIN users u ON u.id = k.user_id"
        " WHERE k.key_hash = ? AND k.revoked_at IS NULL",
        (key_hash,),
    ).fetchone()
    return None if row is None else (_user(row), int(row["key_id"]))


def active_key_count(conn: Connection, user_id: int) -> int:
    return int(
        scalar(
            conn,
            "SELECT count(*) FROM api_keys WHERE user_id = ? AND revoked_at IS NULL",
            (user_id,),
        )
    )


def has_other_credential(conn: Connection, user_id: int, except_key: int) -> bool:
    """Whether the user can still get in without key ``except_key``: a password, or another
    active key."""
    return bool(
        scalar(
            conn,
            "SELECT (SELECT password_hash IS NOT NULL FROM users WHERE id = ?1)"
            " OR EXISTS (SELECT 1 FROM api_keys WHERE user_id = ?1 AND id != ?2"
            "            AND revoked_at IS NULL)",
            (user_id, except_key),
        )
    )


def admins_with_credentials(conn: Connection, except_key: int) -> int:
    """Administrators who have a password or an active key other than ``except_key``."""
    return int(
        scalar(
            conn,
            "SELECT count(*) FROM users u WHERE u.is_admin = 1 AND (u.password_hash IS NOT NULL"
            " OR EXISTS (SELECT 1 FROM api_keys k WHERE k.user_id = u.id AND k.id != ?"
            "            AND k.revoked_at IS NULL))",
            (except_key,),
        )
    )


def revoke_key(conn: Connection, key_id: int) -> bool:
    cur = conn.execute(
        "UPDATE api_keys SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ')"
        " WHERE id = ? AND revoked_at IS NULL",
        (key_id,),
    )
    return bool(cur.rowcount)


def touch_key(conn: Connection, key_id: int) -> None:
    conn.execute(
        "UPDATE api_keys SET last_used_at = strftime('%Y-%m-%dT%H:%M:%fZ') WHERE id = ?",
        (key_id,),
    )
