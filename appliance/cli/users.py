"""``appliance users ...`` and ``appliance keys ...``."""

from __future__ import annotations

import argparse
import secrets
import sys
from typing import Any

from appliance import accounts, logins
from appliance.auth import hash_password
from appliance.billing.quota import user_json
from appliance.cli.common import emit_json, read, settings_from, write
from appliance.db.connection import Connection
from appliance.db.queries import logins as logins_q
from appliance.db.queries import users as q
from appliance.errors import Conflict, InvalidPayload, NotFound

MIN_PASSWORD = 8  # as POST /v1/users


def register(sub: Any) -> None:
    users = sub.add_parser("users", help="manage users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    create = users_sub.add_parser("create", help="create a user and a first API key")
    create.add_argument("email")
    create.add_argument("--password", help="password for POST /auth/token (optional)")
    create.add_argument("--credits", type=int, default=0, help="starting purchased credits")
    create.add_argument("--admin", action="store_true", help="make the user an administrator")
    create.add_argument("--json", action="store_true", help="print one JSON object")
    create.set_defaults(func=users_create)
    lst = users_sub.add_parser("list", help="users with their credits (as GET /v1/quota)")
    lst.add_argument("--json", action="store_true", help="print JSON lines")
    lst.set_defaults(func=users_list)
    unlock = users_sub.add_parser(
        "unlock", help="lift a login lockout (too many failed logins) of an account or address"
    )
    unlock.add_argument("email", nargs="?", help="the account's e-mail")
    unlock.add_argument("--address", help="a client address to unlock instead (or as well)")
    unlock.add_argument("--json", action="store_true", help="print JSON lines")
    unlock.set_defaults(func=users_unlock)
    for name, helptext in (
        ("disable", "refuse the user's keys, tokens and password (reversible)"),
        ("enable", "let a disabled user in again"),
    ):
        p = users_sub.add_parser(name, help=helptext)
        p.add_argument("email")
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.set_defaults(func=users_disable if name == "disable" else users_enable)
    delete = users_sub.add_parser(
        "delete",
        help="delete a user and their keys",
        description="Delete a user. A user with usage or ledger entries is refused unless "
        "--purge (which deletes that history too); disabling keeps it.",
    )
    delete.add_argument("email")
    delete.add_argument(
        "--purge", action="store_true", help="also delete the user's usage and ledger history"
    )
    delete.add_argument("--json", action="store_true", help="print one JSON object")
    delete.set_defaults(func=users_delete)
    reset = users_sub.add_parser(
        "reset-password",
        help="set a new password (generated and shown once unless given); ends the user's "
        "access tokens",
    )
    reset.add_argument("email")
    given = reset.add_mutually_exclusive_group()
    given.add_argument("--password", help="the new password (visible in the shell history)")
    given.add_argument(
        "--password-stdin", action="store_true", help="read the new password from stdin"
    )
    reset.add_argument("--json", action="store_true", help="print one JSON object")
    reset.set_defaults(func=users_reset_password)

    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    kc = keys_sub.add_parser("create", help="create an API key for a user (shown once)")
    kc.add_argument("email")
    kc.add_argument("--name", help="a label for the key")
    kc.add_argument("--json", action="store_true", help="print one JSON object")
    kc.set_defaults(func=keys_create)
    kl = keys_sub.add_parser("list", help="API keys (never the keys themselves), all or one user's")
    kl.add_argument("email", nargs="?", help="only this user's keys")
    kl.add_argument("--json", action="store_true", help="print JSON lines")
    kl.set_defaults(func=keys_list)
    kr = keys_sub.add_parser("revoke", help="revoke an API key by id")
    kr.add_argument("id", type=int)
    kr.add_argument("--json", action="store_true", help="print one JSON object")
    kr.set_defaults(func=keys_revoke)


def _user(conn: Connection, email: str) -> q.User:
    user = q.by_email(conn, email)
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return user


def _not_last_admin(conn: Connection, user: q.User, doing: str) -> None:
    if user.is_admin and user.disabled_at is None and q.count_active_admins(conn) <= 1:
        raise Conflict(
            f"cannot {doing} {user.email}: the last administrator who can sign in",
            code="last_admin",
        )


def users_create(args: argparse.Namespace) -> int:
    if args.credits < 0:
        raise InvalidPayload("--credits must be >= 0")
    settings = settings_from(args)
    created = write(
        settings,
        accounts.create_user,
        args.email,
        args.password,
        is_admin=args.admin,
        credits=args.credits,
    )
    if args.json:
        shown = user_json(created.user, settings.free_monthly_credits)
        emit_json({**shown, "api_key": created.api_key, "key_id": created.key.id})
    else:
        print(f"created user {created.user.email} (id {created.user.id})")
        print(f"API key (shown once): {created.api_key}")
    return 0


def users_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    rows = read(settings, q.list_users, limit=1_000_000)
    shown = [user_json(u, settings.free_monthly_credits) for u in rows]
    if args.json:
        for user in shown:
            emit_json(user)
        return 0
    print("id\temail\trole\tstatus\tplan\tremaining\tallowance_remaining\tpurchased")
    for u in shown:
        print(
            f"{u['id']}\t{u['email']}\t{'admin' if u['is_admin'] else 'user'}\t"
            f"{'disabled' if u['disabled'] else 'active'}\t{u['plan']}\t{u['remaining']}\t"
            f"{u['allowance_remaining']}/{u['monthly_allowance']}\t{u['purchased']}"
        )
    return 0


def _set_disabled(args: argparse.Namespace, disabled: bool) -> int:
    def change(conn: Connection) -> tuple[q.User, bool]:
        user = _user(conn, args.email)
        if disabled:
            _not_last_admin(conn, user, "disable")
        return user, q.set_disabled(conn, user.id, disabled)

    user, changed = write(settings_from(args), change)
    state = "disabled" if disabled else "enabled"
    if args.json:
        emit_json({"id": user.id, "email": user.email, "disabled": disabled, "changed": changed})
    elif changed:
        print(f"{state} {user.email}")
    else:
        print(f"{user.email} was already {state}; nothing changed")
    return 0


def users_disable(args: argparse.Namespace) -> int:
    return _set_disabled(args, True)


def users_enable(args: argparse.Namespace) -> int:
    return _set_disabled(args, False)


def users_delete(args: argparse.Namespace) -> int:
    def delete(conn: Connection) -> tuple[q.User, int, int]:
        user = _user(conn, args.email)
        _not_last_admin(conn, user, "delete")
        usage, ledger = q.history(conn, user.id)
        if (usage or ledger) and not args.purge:
            raise Conflict(
                f"{user.email} has {usage} usage events and {ledger} ledger entries: "
                "'users disable' keeps that history; --purge deletes it with the user",
                code="user_has_history",
            )
        q.delete_user(conn, user.id)
        return user, usage, ledger

    user, usage, ledger = write(settings_from(args), delete)
    if args.json:
        emit_json(
            {"id": user.id, "email": user.email, "usage_events": usage, "ledger_entries": ledger}
        )
    else:
        extra = f" with {usage} usage events and {ledger} ledger entries" if usage or ledger else ""
        print(f"deleted {user.email} (id {user.id}){extra}")
    return 0


def users_reset_password(args: argparse.Namespace) -> int:
    generated = args.password is None and not args.password_stdin
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = args.password or secrets.token_urlsafe(15)
    if len(password) < MIN_PASSWORD:
        raise InvalidPayload(f"the password must have at least {MIN_PASSWORD} characters")
    hashed = hash_password(password)

    def reset(conn: Connection) -> q.User:
        user = _user(conn, args.email)
        q.set_password(conn, user.id, hashed)
        return user

    user = write(settings_from(args), reset)
    if args.json:
        emit_json({"email": user.email, "password": password if generated else None})
    elif generated:
        print(f"new password for {user.email} (shown once): {password}")
    else:
        print(f"password of {user.email} changed")
    return 0


def keys_create(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    def create(conn: Connection) -> tuple[str, q.ApiKey]:
        user_id = _user(conn, args.email).id
        return accounts.create_key(conn, user_id, args.name, limit=settings.max_api_keys_per_user)

    plaintext, key = write(settings, create)
    if args.json:
        emit_json({**key.public(), "api_key": plaintext})
    else:
        print(f"API key {key.id} (shown once): {plaintext}")
    return 0


def keys_list(args: argparse.Namespace) -> int:
    def listing(conn: Connection) -> list[tuple[str, q.ApiKey]]:
        if args.email:
            user = _user(conn, args.email)
            return [(user.email, k) for k in q.list_keys(conn, user.id)]
        return q.list_all_keys(conn)

    rows = read(settings_from(args), listing)
    if args.json:
        for owner, key in rows:
            emit_json({**key.public(), "email": owner})
        return 0
    print("id\temail\tprefix\tname\tstatus\tcreated_at\tlast_used_at")
    for owner, key in rows:
        status = "revoked" if key.revoked_at else "active"
        print(
            f"{key.id}\t{owner}\tapk_{key.prefix}_...\t{key.name or '-'}\t{status}\t"
            f"{key.created_at}\t{key.last_used_at or '-'}"
        )
    return 0


def keys_revoke(args: argparse.Namespace) -> int:
    key = write(settings_from(args), accounts.revoke_key, args.id)
    if args.json:
        emit_json(key.public())
    else:
        print(f"revoked API key {key.id} (apk_{key.prefix}_...)")
    return 0


def users_unlock(args: argparse.Namespace) -> int:
    if not args.email and not args.address:
        raise InvalidPayload("name an e-mail, --address, or both")
    targets = []
    if args.email:
        targets.append((logins.ACCOUNT, logins.account_key(args.email)))
    if args.address:
        targets.append((logins.ADDRESS, args.address.strip()))

    def lift(conn: Connection) -> list[bool]:
        return [logins_q.clear(conn, scope, subject) for scope, subject in targets]

    for (scope, subject), had in zip(targets, write(settings_from(args), lift), strict=True):
        if args.json:
            emit_json({"scope": scope, "subject": subject, "cleared": had})
        else:
            print(f"{scope} {subject}: " + ("failed logins cleared" if had else "was not locked"))
    return 0
