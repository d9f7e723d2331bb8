"""Creating users and keys: the rules shared by the API and the CLI.

Every function here is a *write function*: it takes a connection and runs inside the
caller's transaction (the writer thread's savepoint, or ``transaction()`` in the CLI).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from appliance.auth import NewKey, hash_password, new_api_key
from appliance.db.connection import Connection, IntegrityError
from appliance.db.queries import billing as billing_q
from appliance.db.queries import users as q
from appliance.errors import Conflict, InvalidPayload, NotFound

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
_EMAIL = re.compile(EMAIL_PATTERN)


@dataclass(frozen=True)
class CreatedUser:
    user: q.User
    api_key: str
    key: q.ApiKey


def validate_email(email: str) -> str:
    email = email.strip()
    if not _EMAIL.match(email) or len(email) > 254:
        raise InvalidPayload(
            "invalid e-mail address", details=[{"field": "email", "error": "invalid e-mail"}]
        )
    return email


def create_user(
    conn: Connection,
    email: str,
    password: str | None,
    *,
    is_admin: bool = False,
    credits: int = 0,
    password_hash: str | None = None,
    api_key: NewKey | None = None,
) -> CreatedUser:
    """Create a user with a first API key (``api_key``, when it was made and shown before
    this runs). Raises Conflict when the e-mail is taken."""
    email = validate_email(email)
    if password_hash is None and password:
        password_hash = hash_password(password)
    try:
        user = q.insert_user(conn, email, password_hash, is_admin=is_admin)
    except IntegrityError as exc:
        raise Conflict(f"a user with e-mail {email} exists", code="user_exists") from exc
    if credits:
        # Starting credits are a grant like any other: one ledger row, so the books balance
        # (``appliance db check``) from the user's first moment.
        after = billing_q.add_purchased(conn, user.id, credits)
        billing_q.insert_ledger(conn, user.id, "admin", f"user:{user.id}:created", credits, after)
        user = replace(user, quota_remaining=after)
    created = create_key(conn, user.id, name="default", api_key=api_key)
    return CreatedUser(user, created[0], created[1])


def create_key(
    conn: Connection,
    user_id: int,
    name: str | None = None,
    *,
    limit: int | None = None,
    api_key: NewKey | None = None,
) -> tuple[str, q.ApiKey]:
    """A new API key for the user (``api_key`` when the caller made it already); the plaintext
    is returned once and never stored. Raises Conflict (``too_many_keys``) when the user already
    holds ``limit`` active keys."""
    if limit is not None:
        active = q.active_key_count(conn, user_id)
        if active >= limit:
            raise Conflict(
                f"this user already has {active} active API keys (max_api_keys_per_user is"
                f" {limit}); revoke one first",
                code="too_many_keys",
            )
    new = api_key or new_api_key()
    return new.plaintext, q.insert_key(conn, user_id, new.prefix, new.key_hash, name)


def revoke_key(
    conn: Connection, key_id: int, owner_id: int | None = None, *, in_use: bool = False
) -> q.ApiKey:
    """Revoke a key (idempotent). With ``owner_id``, only that user's key. Raises NotFound.

    Two revocations would lock people out, and are refused (409): the key a request is made
    with (``in_use``) when its owner has no other active key and no password, and the last
    credential (active key or password) of the last administrator who has one.
    """
    key = q.key_by_id(conn, key_id)
    if key is None or (owner_id is not None and key.user_id != owner_id):
        raise NotFound(f"no API key with id {key_id}")
    if key.revoked_at is None:
        if in_use and not q.has_other_credential(conn, key.user_id, key_id):
            raise Conflict(
                "this is the key this request is made with and your only way in (no other "
                "active key, no password): create another key or set a password first",
                code="last_credential",
            )
        owner = q.by_id(conn, key.user_id)
        if owner is not None and owner.is_admin and q.admins_with_credentials(conn, key_id) == 0:
            raise Conflict(
                "this is the last credential of the last administrator who has one: create "
                "another admin key first",
                code="last_admin_credential",
            )
    q.revoke_key(conn, key_id)
    revoked = q.key_by_id(conn, key_id)
    assert revoked is not None
    return revoked
