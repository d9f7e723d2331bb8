"""``appliance billing reconcile``: apply the Stripe events the webhook missed.

A localhost appliance often cannot receive webhooks at all; running this after a purchase
(or from cron) asks Stripe for the recent events and applies each one not applied yet, with
exactly the webhook's rules.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from appliance.billing.payments import Payments
from appliance.cli.common import emit_json, ensure_initialised, open_db, settings_from
from appliance.errors import InvalidPayload

# Stripe keeps events for 30 days.
MAX_DAYS = 30


def register(sub: Any) -> None:
    billing = sub.add_parser("billing", help="payments operations")
    billing_sub = billing.add_subparsers(dest="billing_command", required=True)
    rec = billing_sub.add_parser("reconcile", help="apply Stripe events the webhook missed")
    rec.add_argument(
        "--days", type=float, default=3.0, help=f"look back this many days (max {MAX_DAYS})"
    )
    rec.add_argument("--json", action="store_true", help="print one JSON object")
    rec.set_defaults(func=reconcile)


def reconcile(args: argparse.Namespace) -> int:
    if not 0 < args.days <= MAX_DAYS:
        raise InvalidPayload(f"--days must be in (0, {MAX_DAYS}]")
    settings = settings_from(args)
    payments = Payments(settings, ensure_initialised(settings).install_id)
    since = int(time.time() - args.days * 86400)
    conn = open_db(settings)
    try:
        report = payments.reconcile(conn, since)
    finally:
        conn.close()
    applied = [o for o in report.outcomes if o.result != "duplicate"]
    if args.json:
        emit_json(
            {
                "events_seen": report.seen,
                "results": report.counts(),
                "applied": [
                    {"event_id": o.event_id, "type": o.type, "result": o.result, "detail": o.detail}
                    for o in applied
                ],
            }
        )
        return 0
    print(f"events seen: {report.seen}; newly applied: {len(applied)}")
    for o in applied:
        print(f"  {o.event_id}\t{o.type}\t{o.result}\t{o.detail or ''}")
    return 0
