"""The administrator's API key: created only once it has been shown.

A first start that is killed between creating the admin and printing its key would leave an
admin nobody can use (the key is stored hashed). So the key is generated, handed to ``show``
(printed and flushed), and only then is the admin (or the new key) committed. Killed before
the commit, nothing exists and the next start shows a new key; killed after, the key shown
works. ``appliance admin reset-key`` uses the same order for the lost-key story.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from appliance import accounts
from appliance.auth import NewKey, new_api_key
from appliance.db.connection import Connection, connect, transaction
from appliance.db.queries import users as q
from appliance.errors import ApplianceError, Conflict, NotFound
from appliance.settings import Settings

# show(email, plaintext key): print it where the operator sees it; raise to abort.
Show = Callable[[str, str], None]


class KeyNotSaved(ApplianceError):
    """The key was shown but could not be stored: it does not work."""

    status = 500
    code = "admin_key_not_saved"


@dataclass(frozen=True)
class AdminKey:
    email: str
    key_id: int
    revoked: list[int]  # other keys of the admin revoked with --revoke-others


def _open(settings: Settings) -> Connection:
    return connect(
        settings.db_path,
        synchronous=settings.db_synchronous,
        busy_timeout_ms=settings.db_busy_timeout_ms,
    )


def needs_first_admin(settings: Settings, email: str) -> bool:
    """No admin yet. Raises Conflict (before any key is shown) when ``email`` belongs to a
    user who is not an admin."""
    conn = _open(settings)
    try:
        if q.count_admins(conn) > 0:
            return False
        if q.by_email(conn, email) is not None:
            raise Conflict(
                f"the install has no administrator and {email} is an ordinary user: "
                "name another e-mail with --email",
                code="user_exists",
            )
        return True
    finally:
        conn.close()


def create_first_admin(settings: Settings, show: Show, email: str | None = None) -> AdminKey | None:
    """Create the install's first admin (``email``, default the ``admin_email`` setting), its
    key shown before it exists; None when an admin exists already."""
    email = accounts.validate_email(email or settings.admin_email)
    if not needs_first_admin(settings, email):
        return None
    key = new_api_key()
    show(email, key.plaintext)
    conn = _open(settings)
    try:
        with transaction(conn):
            if q.count_admins(conn) > 0:
                raise KeyNotSaved(
                    "another process created the admin at the same time: the key printed "
                    "above is NOT valid; run 'appliance admin reset-key' for a working one"
                )
            created = accounts.create_user(conn, email, password=None, is_admin=True, api_key=key)
    finally:
        conn.close()
    return AdminKey(created.user.email, created.key.id, [])


def _target(conn: Connection, settings: Settings, email: str | None) -> q.User | None:
    """The admin whose key is reset: ``email``, else the configured admin, else the oldest."""
    if email:
        user = q.by_email(conn, email)
        if user is None:
            return None
        if not user.is_admin:
            raise Conflict(f"{user.email} is not an administrator", code="not_admin")
        if user.disabled_at is not None:
            raise Conflict(f"{user.email} is disabled: 'users enable' it first", code="disabled")
        return user
    admins = [
        u for u in q.list_users(conn, limit=1_000_000) if u.is_admin and u.disabled_at is None
    ]
    configured = [u for u in admins if u.email.lower() == settings.admin_email.lower()]
    chosen = configured or admins
    return chosen[0] if chosen else None


def reset_key(
    settings: Settings, show: Show, *, email: str | None = None, revoke_others: bool = False
) -> AdminKey:
    """A new API key for an admin (created, with this key, if the install has none)."""
    conn = _open(settings)
    try:
        target = _target(conn, settings, email)
        if target is None and q.count_admins(conn) == 0:
            created = create_first_admin(settings, show, email)
            if created is None:  # an admin appeared meanwhile: reset its key instead
                return reset_key(settings, show, email=email, revoke_others=revoke_others)
            return created
        if target is None:
            raise NotFound(f"no user with e-mail {email}")
        key = new_api_key()
        show(target.email, key.plaintext)
        with transaction(conn):
            return _store(conn, target, key, revoke_others)
    finally:
        conn.close()


def _store(conn: Connection, admin: q.User, key: NewKey, revoke_others: bool) -> AdminKey:
    current = q.by_id(conn, admin.id)
    if current is None or not current.is_admin:
        raise KeyNotSaved(
            f"{admin.email} stopped being an admin meanwhile: the key printed above is NOT valid"
        )
    _, stored = accounts.create_key(conn, admin.id, "reset-key", api_key=key)
    revoked = []
    if revoke_others:
        for other in q.list_keys(conn, admin.id):
            if other.id != stored.id and other.revoked_at is None:
                q.revoke_key(conn, other.id)
                revoked.append(other.id)
    return AdminKey(admin.email, stored.id, revoked)
