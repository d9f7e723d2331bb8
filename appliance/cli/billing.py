"""``appliance credits grant|show`` and ``appliance usage export``."""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance.billing import quota, usage
from appliance.billing.ledger import LedgerEntry, add_credits
from appliance.cli.common import (
    EXIT_FAILED,
    emit_json,
    open_for_reading,
    read,
    settings_from,
    warn,
    write,
)
from appliance.db.connection import Connection
from appliance.db.queries import billing as bq
from appliance.db.queries import users as uq
from appliance.errors import InvalidPayload, NotFound


def register(sub: Any) -> None:
    credits = sub.add_parser("credits", help="grant and inspect credits")
    credits_sub = credits.add_subparsers(dest="credits_command", required=True)
    grant = credits_sub.add_parser(
        "grant", help="add N purchased credits to a user (negative N takes credits back)"
    )
    grant.add_argument("email")
    grant.add_argument("n", type=int, help="credits to add (negative to remove)")
    grant.add_argument(
        "--ref",
        help="a reference for this grant; repeating a command with the same --ref grants once"
        " (default: a new one)",
    )
    grant.add_argument(
        "--allow-negative",
        action="store_true",
        help="let a negative N take the purchased balance below zero",
    )
    grant.add_argument("--json", action="store_true", help="print the ledger entry as JSON")
    grant.set_defaults(func=credits_grant)
    show = credits_sub.add_parser("show", help="a user's balances (as GET /v1/quota)")
    show.add_argument("email")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(func=credits_show)

    use = sub.add_parser("usage", help="usage events")
    use_sub = use.add_subparsers(dest="usage_command", required=True)
    export = use_sub.add_parser("export", help="one line per usage event, oldest first")
    export.add_argument("--format", choices=usage.FORMATS, default="csv")
    export.add_argument("--since", help="from this date or ISO datetime (UTC), inclusive")
    export.add_argument("--user", metavar="EMAIL", help="only this user's events")
    export.add_argument("--output", "-o", help="write to this file instead of stdout")
    export.set_defaults(func=usage_export)


def _user_id(conn: Connection, email: str) -> int:
    user = uq.by_email(conn, email)
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return user.id


def credits_grant(args: argparse.Namespace) -> int:
    if args.n == 0:
        raise InvalidPayload("N must not be 0")
    ref = args.ref or f"cli:{uuid.uuid4().hex}"

    def grant(conn: Connection) -> tuple[LedgerEntry, bool]:
        user_id = _user_id(conn, args.email)
        entry = add_credits(conn, user_id, args.n, "admin", ref, allow_negative=args.allow_negative)
        if entry is not None:
            return entry, True
        # The --ref was used before: report that grant, and that nothing changed.
        row = bq.ledger_by_ref(conn, "admin", ref)
        assert row is not None
        return LedgerEntry.of(row), False

    entry, granted = write(settings_from(args), grant)
    if args.json:
        emit_json({**entry.__dict__, "granted": granted})
    if not granted:
        warn(
            f"not granted: --ref {ref} is already in the ledger (entry {entry.id}, "
            f"{entry.delta:+d} credits on {entry.created_at}); nothing changed"
        )
        return EXIT_FAILED
    if not args.json:
        print(
            f"{'granted' if args.n > 0 else 'removed'} {abs(args.n)} credits"
            f" {'to' if args.n > 0 else 'from'} {args.email}: purchased balance"
            f" {entry.balance_after} (ledger entry {entry.id}, ref {ref})"
        )
    return 0


def credits_show(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    def show(conn: Connection) -> quota.QuotaView:
        return quota.view(
            conn, _user_id(conn, args.email), datetime.now(UTC), settings.free_monthly_credits
        )

    view = read(settings, show)
    if args.json:
        emit_json(view.public())
        return 0
    print(
        f"{args.email}: {view.remaining} credits remaining = {view.allowance_remaining} of "
        f"the {view.monthly_allowance} monthly allowance (renews {view.resets_at}) + "
        f"{view.purchased} purchased; plan {view.plan}"
    )
    return 0


def usage_export(args: argparse.Namespace) -> int:
    try:
        since = usage.parse_moment(args.since) if args.since else None
    except ValueError as exc:
        raise InvalidPayload(f"--since: {exc}") from exc
    conn = open_for_reading(settings_from(args))
    out = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        user_id = _user_id(conn, args.user) if args.user else None
        n = usage.write_export(bq.iter_usage(conn, since=since, user_id=user_id), args.format, out)
    finally:
        conn.close()
        if out is not sys.stdout:
            out.close()
    if args.output:
        print(f"wrote {n} usage events to {Path(args.output)}", file=sys.stderr)
    return 0
