"""``appliance init``, ``config show``, ``backup``, ``db optimize``, ``admin rotate-secret``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from appliance import token_secret
from appliance.bootstrap import initialize
from appliance.cli.common import emit_json, open_db, settings_from
from appliance.db import maintenance
from appliance.db.backup import backup_to, default_backup_path
from appliance.settings import masked


def register(sub: Any) -> None:
    p = sub.add_parser("init", help="create the data dir, run migrations, create the admin")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=init)

    cfg = sub.add_parser("config", help="inspect configuration")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    show = cfg_sub.add_parser("show", help="print the effective settings (secrets masked)")
    show.set_defaults(func=config_show)

    bk = sub.add_parser("backup", help="copy the database with SQLite's online backup")
    bk.add_argument(
        "--out", help="target file (default: <data_dir>/backups/appliance-<time>.sqlite3)"
    )
    bk.set_defaults(func=backup)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    opt = db_sub.add_parser("optimize", help="ANALYZE and PRAGMA optimize")
    opt.set_defaults(func=db_optimize)

    adm = sub.add_parser("admin", help="administration of the install itself")
    adm_sub = adm.add_subparsers(dest="admin_command", required=True)
    rot = adm_sub.add_parser(
        "rotate-secret",
        help="new token-signing secret: every access token issued so far stops working",
    )
    rot.set_defaults(func=rotate_secret)


def init(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    result = initialize(settings)
    if args.json:
        emit_json(
            {
                "data_dir": str(settings.data_dir),
                "install_id": result.install_id,
                "migrations_applied": result.migrations_applied,
                "admin_email": result.admin_email,
                "admin_api_key": result.admin_api_key,
                "backup": str(result.backup) if result.backup else None,
            }
        )
        return 0
    print(f"data dir: {settings.data_dir}")
    print(f"install id: {result.install_id}")
    print(f"migrations applied: {', '.join(result.migrations_applied) or 'none (up to date)'}")
    if result.backup:
        print(f"backup taken before upgrading: {result.backup}")
    if result.admin_api_key:
        print(f"created admin {result.admin_email}; API key (shown once):")
        print(f"  {result.admin_api_key}")
    return 0


def config_show(args: argparse.Namespace) -> int:
    emit_json(masked(settings_from(args)))
    return 0


def db_optimize(args: argparse.Namespace) -> int:
    conn = open_db(settings_from(args))
    try:
        report = maintenance.optimize(conn)
    finally:
        conn.close()
    emit_json(report)
    return 0


def backup(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    dest = Path(args.out) if args.out else default_backup_path(settings.data_dir)
    conn = open_db(settings)
    try:
        written = backup_to(conn, dest)
    finally:
        conn.close()
    print(f"backup written: {written} ({written.stat().st_size} bytes)")
    return 0


def rotate_secret(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if settings.token_secret is not None:
        print(
            "error: the token secret comes from the token_secret setting "
            "(config file or APPLIANCE_TOKEN_SECRET); change it there and restart",
            file=sys.stderr,
        )
        return 2
    initialize(settings)  # moves an old install's secret out of the database first
    path = token_secret.rotate(settings.data_dir)
    print(f"token secret rotated ({path}): every access token issued before is refused now")
    print("(by a running server within a second); API keys and passwords are unaffected")
    return 0
