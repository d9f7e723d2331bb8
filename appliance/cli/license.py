"""``appliance license keygen|issue|redeem``: offline credit vouchers.

``keygen`` and ``issue`` run at the vendor (no data dir needed); ``redeem`` runs on the
appliance and credits a user, exactly once per license.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from appliance.billing import licenses
from appliance.billing.payments import Payments
from appliance.cli.common import emit_json, ensure_initialised, open_db, settings_from


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def _expires(text: str) -> date:
    day = _day(text)
    today = datetime.now(UTC).date()
    if day < today:
        raise argparse.ArgumentTypeError(f"{text} is in the past (today is {today}, UTC)")
    return day


def _install_id(text: str) -> str:
    """Install ids are UUIDs (``appliance init`` prints one; so does GET /version)."""
    try:
        parsed = uuid.UUID(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an install id (a UUID such as the one 'appliance init' prints)"
        ) from None
    return str(parsed)


def _credits(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= licenses.MAX_CREDITS:
        raise argparse.ArgumentTypeError(f"credits must be 1..{licenses.MAX_CREDITS}")
    return value


def register(sub: Any) -> None:
    lic = sub.add_parser("license", help="offline license keys (credit vouchers)")
    lic_sub = lic.add_subparsers(dest="license_command", required=True)

    kg = lic_sub.add_parser("keygen", help="create the vendor's Ed25519 signing key pair")
    kg.add_argument("--out", required=True, help="directory for the key files")
    kg.add_argument("--json", action="store_true", help="print one JSON object")
    kg.set_defaults(func=keygen)

    iss = lic_sub.add_parser("issue", help="sign a license key and print it")
    iss.add_argument("--private-key", required=True, help="the PEM file from keygen")
    iss.add_argument("--credits", required=True, type=_credits, help="credits it grants")
    iss.add_argument(
        "--install-id", required=True, type=_install_id, help="the appliance's install id"
    )
    iss.add_argument(
        "--expires", type=_expires, help="last valid day, YYYY-MM-DD (UTC), today or later"
    )
    iss.add_argument("--json", action="store_true", help="print one JSON object")
    iss.set_defaults(func=issue)

    red = lic_sub.add_parser("redeem", help="redeem a license key for a user")
    red.add_argument("key", help="the license key string")
    red.add_argument("--email", required=True, help="the user to credit")
    red.add_argument("--json", action="store_true", help="print one JSON object")
    red.set_defaults(func=redeem)


def keygen(args: argparse.Namespace) -> int:
    try:
        files = licenses.keygen(Path(args.out))
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        emit_json(files.public())
        return 0
    print(f"private key (keep it secret): {files.private_key}")
    print(f"public key: {files.public_key}")
    print("trust it on an appliance with the setting license_public_keys, e.g.:")
    print(f'  license_public_keys = ["{files.public_entry}"]')
    return 0


def issue(args: argparse.Namespace) -> int:
    try:
        key = licenses.load_private_key(Path(args.private_key))
    except (ValueError, TypeError) as exc:  # not PEM, encrypted, or not Ed25519
        print(f"error: cannot use {args.private_key} as a signing key: {exc}", file=sys.stderr)
        return 2
    issued = licenses.issue(
        key, credits=args.credits, install_id=args.install_id, expires=args.expires
    )
    if args.json:
        emit_json(
            {
                "license_key": issued,
                "credits": args.credits,
                "install_id": args.install_id,
                "expires": args.expires.isoformat() if args.expires else None,
            }
        )
        return 0
    print(issued)
    return 0


def redeem(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    payments = Payments(settings, ensure_initialised(settings).install_id)
    conn = open_db(settings)
    try:
        done = payments.redeem_for_email(conn, args.email, args.key)
    finally:
        conn.close()
    if args.json:
        emit_json(
            {
                "license_id": done.license.license_id,
                "credits": done.license.credits,
                "user_id": done.user_id,
                "quota_remaining": done.balance_after,
                "purchased": done.balance_after,
            }
        )
    else:
        print(
            f"redeemed {done.license.credits} credits for {args.email}"
            f" (license {done.license.license_id}); purchased balance {done.balance_after}"
        )
    return 0
