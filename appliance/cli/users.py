"""``appliance users ...`` and ``appliance keys ...``."""

from __future__ import annotations

import argparse
from typing import Any

from appliance import accounts, logins
from appliance.cli.common import emit_json, read, settings_from, write
from appliance.db.queries import logins as logins_q
from appliance.db.queries import users as q
from appliance.errors import NotFound


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
    lst = users_sub.add_parser("list", help="list users")
    lst.add_argument("--json", action="store_true", help="print JSON lines")
    lst.set_defaults(func=users_list)
    unlock = users_sub.add_parser(
        "unlock", help="lift a login lockout (too many failed logins) of an account or address"
    )
    unlock.add_argument("email", nargs="?", help="the account's e-mail")
    unlock.add_argument("--address", help="a client address to unlock instead (or as well)")
    unlock.set_defaults(func=users_unlock)

    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    kc = keys_sub.add_parser("create", help="create an API key for a user (shown once)")
    kc.add_argument("email")
    kc.add_argument("--name", help="a label for the key")
    kc.add_argument("--json", action="store_true", help="print one JSON object")
    kc.set_defaults(func=keys_create)
    kr = keys_sub.add_parser("revoke", help="revoke an API key by id")
    kr.add_argument("id", type=int)
    kr.set_defaults(func=keys_revoke)


def users_create(args: argparse.Namespace) -> int:
    if args.credits < 0:
        raise SystemExit("error: --credits must be >= 0")
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
        emit_json({**created.user.public(), "api_key": created.api_key, "key_id": created.key.id})
    else:
        print(f"created user {created.user.email} (id {created.user.id})")
        print(f"API key (shown once): {created.api_key}")
    return 0


def users_list(args: argparse.Namespace) -> int:
    rows = read(settings_from(args), q.list_users, limit=1_000_000)
    for user in rows:
        if args.json:
            emit_json(user.public())
        else:
            role = "admin" if user.is_admin else "user"
            print(f"{user.id}\t{user.email}\t{role}\t{user.plan}\tcredits={user.quota_remaining}")
    return 0


def keys_create(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    def create(conn: Any) -> tuple[str, q.ApiKey]:
        user = q.by_email(conn, args.email)
        if user is None:
            raise NotFound(f"no user with e-mail {args.email}")
        return accounts.create_key(conn, user.id, args.name, limit=settings.max_api_keys_per_user)

    plaintext, key = write(settings, create)
    if args.json:
        emit_json({**key.public(), "api_key": plaintext})
    else:
        print(f"API key {key.id} (shown once): {plaintext}")
    return 0


def keys_revoke(args: argparse.Namespace) -> int:
    key = write(settings_from(args), accounts.revoke_key, args.id)
    print(f"revoked API key {key.id} ({key.prefix})")
    return 0


def users_unlock(args: argparse.Namespace) -> int:
    if not args.email and not args.address:
        raise SystemExit("error: name an e-mail, --address, or both")
    targets = []
    if args.email:
        targets.append((logins.ACCOUNT, logins.account_key(args.email)))
    if args.address:
        targets.append((logins.ADDRESS, args.address.strip()))

    def lift(conn: Any) -> list[bool]:
        return [logins_q.clear(conn, scope, subject) for scope, subject in targets]

    for (scope, subject), had in zip(targets, write(settings_from(args), lift), strict=True):
        print(f"{scope} {subject}: " + ("failed logins cleared" if had else "was not locked"))
    return 0
