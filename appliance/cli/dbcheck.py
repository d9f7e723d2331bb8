"""``appliance db check [--full] [--json]``: is the database sound, do the books balance?"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from appliance.cli.common import emit_json, require_data_dir, settings_from
from appliance.db.check import check
from appliance.db.connection import connect_readonly


def register_check(db_sub: Any) -> None:
    p = db_sub.add_parser(
        "check",
        help="SQLite's checks, the money invariant per user (balance = ledger - usage), "
        "the index; exit 1 on any problem",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="PRAGMA integrity_check (every page and index) instead of quick_check",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=db_check)


def db_check(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    # Read-only and without start-up work: it must also inspect a damaged database (which
    # start-up refuses) and one on a read-only mount.
    require_data_dir(settings)
    conn = connect_readonly(settings.db_path)
    try:
        report = check(conn, full=args.full)
    finally:
        conn.close()
    if args.json:
        emit_json(report.public())
    else:
        verdict = "ok" if report.ok else f"{len(report.problems)} problem(s)"
        print(
            f"{verdict}: {'integrity_check' if args.full else 'quick_check'}"
            f" {'; '.join(report.sqlite[:3])}; {report.users} users, {report.credits} credits"
            f" balance with the ledger and usage; {report.chunks} chunks indexed"
            f" ({report.seconds:.2f} s)"
        )
        for problem in report.problems:
            print(f"  {problem}", file=sys.stderr)
    return 0 if report.ok else 1
