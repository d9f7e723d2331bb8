"""``appliance init``, ``config show``, ``backup``, ``restore``, ``db optimize``, ``admin ...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from appliance import admin_key, token_secret
from appliance.bootstrap import InitResult, initialize
from appliance.cli import dbcheck
from appliance.cli.common import (
    emit_json,
    ensure_initialised,
    open_db,
    require_data_dir,
    settings_from,
    warn,
)
from appliance.db import maintenance
from appliance.db.backup import backup_to, default_backup_path, prune
from appliance.db.connection import connect_readonly
from appliance.errors import InvalidPayload
from appliance.progress import Progress
from appliance.restore import restore as restore_database
from appliance.settings import Settings, masked


def register(sub: Any) -> None:
    p = sub.add_parser("init", help="create the data dir, run migrations, create the admin")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=init)

    cfg = sub.add_parser("config", help="inspect configuration")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    show = cfg_sub.add_parser(
        "show", help="the effective settings and where each came from (secrets masked)"
    )
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(func=config_show)

    bk = sub.add_parser("backup", help="copy the database with SQLite's online backup")
    bk.add_argument(
        "--out", help="target file (default: <data_dir>/backups/appliance-<time>-manual.sqlite3)"
    )
    bk.add_argument(
        "--keep",
        type=int,
        metavar="N",
        help="afterwards delete all but the N newest backups in <data_dir>/backups",
    )
    bk.add_argument("--json", action="store_true", help="print one JSON object")
    bk.set_defaults(func=backup)

    rs = sub.add_parser(
        "restore",
        help="replace the database with a backup (verified first; the replaced one is kept)",
        description="Verify BACKUP, then make it the live database. Refused while a server "
        "runs on the data dir. The database it replaces is first copied to "
        "<data_dir>/backups/appliance-<time>-before-restore.sqlite3.",
    )
    rs.add_argument("backup", metavar="BACKUP", help="a backup file (appliance backup)")
    rs.add_argument("--json", action="store_true", help="print one JSON object")
    rs.set_defaults(func=restore)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    opt = db_sub.add_parser("optimize", help="ANALYZE and PRAGMA optimize")
    opt.add_argument("--json", action="store_true", help="print one JSON object")
    opt.set_defaults(func=db_optimize)
    dbcheck.register_check(db_sub)

    adm = sub.add_parser("admin", help="administration of the install itself")
    adm_sub = adm.add_subparsers(dest="admin_command", required=True)
    rot = adm_sub.add_parser(
        "rotate-secret",
        help="new token-signing secret: every access token issued so far stops working",
    )
    rot.add_argument("--json", action="store_true", help="print one JSON object")
    rot.set_defaults(func=rotate_secret)
    rk = adm_sub.add_parser(
        "reset-key",
        help="issue a new API key for the admin (a lost admin key)",
        description="Print a new API key for an administrator: --email, else the admin_email "
        "setting's user, else the oldest admin (created if the install has none).",
    )
    rk.add_argument("--email", help="which administrator")
    rk.add_argument(
        "--revoke-others", action="store_true", help="revoke that admin's other API keys"
    )
    rk.add_argument("--json", action="store_true", help="print one JSON object")
    rk.set_defaults(func=reset_key)


def _init_json(settings: Settings, result: InitResult, email: str | None, key: str | None) -> None:
    emit_json(
        {
            "data_dir": str(settings.data_dir),
            "install_id": result.install_id,
            "migrations_applied": result.migrations_applied,
            "admin_email": email,
            "admin_api_key": key,
            "backup": str(result.backup) if result.backup else None,
        }
    )


def init(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    result = initialize(settings, create_admin=False)
    if not args.json:
        print(f"data dir: {settings.data_dir.resolve()}")
        print(f"install id: {result.install_id}")
        applied = ", ".join(result.migrations_applied) or "none (up to date)"
        print(f"migrations applied: {applied}")
        if result.backup:
            print(f"backup taken before upgrading: {result.backup}")

    def show(email: str, key: str) -> None:
        if args.json:
            _init_json(settings, result, email, key)
        else:
            print(f"created admin {email}; API key (shown once, stored hashed):")
            print(f"  {key}")
        sys.stdout.flush()

    created = admin_key.create_first_admin(settings, show)
    if created is None and args.json:
        _init_json(settings, result, None, None)
    return 0


def _value_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value)
    return "(unset)" if value is None else str(value)


def config_show(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    values = masked(settings)
    sources = {name: str(settings.source_of(name)) for name in values}
    if args.json:
        emit_json(
            {
                "config_file": str(settings.config_file) if settings.config_file else None,
                "settings": values,
                "sources": sources,
            }
        )
        return 0
    print(f"config file: {settings.config_file or '(none)'}")
    width = max(len(name) for name in values)
    for name, value in values.items():
        print(f"{name:<{width}} = {_value_text(value)}    [{sources[name]}]")
    return 0


def db_optimize(args: argparse.Namespace) -> int:
    conn = open_db(settings_from(args))
    try:
        report = maintenance.optimize(conn)
    finally:
        conn.close()
    if args.json:
        emit_json(report)
    else:
        moved = report["wal_checkpoint"]["checkpointed"]
        print(f"analyzed and optimized; {moved} WAL pages checkpointed in {report['seconds']}s")
    return 0


def backup(args: argparse.Namespace) -> int:
    if args.keep is not None and args.keep < 1:
        raise InvalidPayload("--keep must be at least 1")
    settings = settings_from(args)
    dest = Path(args.out) if args.out else default_backup_path(settings.data_dir)
    # Read-only and without start-up work: a backup neither migrates nor needs to write the
    # data dir (which may be on a read-only mount), and it is the copy that gets checked.
    require_data_dir(settings)
    conn = connect_readonly(settings.db_path)
    try:
        written = backup_to(conn, dest)
    finally:
        conn.close()
    deleted = prune(settings.data_dir / "backups", args.keep) if args.keep else []
    if args.json:
        emit_json(
            {
                "backup": str(written),
                "bytes": written.stat().st_size,
                "deleted": [str(p) for p in deleted],
            }
        )
        return 0
    print(f"backup written: {written} ({written.stat().st_size} bytes)")
    for path in deleted:
        print(f"deleted old backup: {path}")
    return 0


def restore(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    ensure_initialised(settings)
    bar = Progress("restoring", unit="pages", enabled=not args.json)

    def migrate_after() -> list[str]:
        return initialize(settings, create_admin=False).migrations_applied

    result = restore_database(
        settings.data_dir,
        settings.db_path,
        Path(args.backup),
        on_pages=lambda done, total: bar.update(done, total=total),
        after=migrate_after,
    )
    bar.finish()
    info = result.restored
    if args.json:
        emit_json(
            {
                **info.public(),
                "replaced_install_id": result.replaced_install_id,
                "kept_aside": str(result.kept_aside),
                "migrations_applied": result.migrations_applied,
            }
        )
        return 0
    print(f"restored {info.path} ({info.size} bytes: {info.users} users, {info.filings} filings)")
    print(f"the database it replaced is kept at {result.kept_aside}")
    if info.install_id != result.replaced_install_id:
        warn(
            f"note: the install id is now {info.install_id} (was "
            f"{result.replaced_install_id}): license keys are bound to the install id"
        )
    if result.migrations_applied:
        print(f"migrated the restored database: {', '.join(result.migrations_applied)}")
    return 0


def rotate_secret(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if settings.token_secret is not None:
        raise InvalidPayload(
            "the token secret comes from the token_secret setting "
            f"({settings.source_of('token_secret')}); change it there and restart"
        )
    ensure_initialised(settings)  # moves an old install's secret out of the database first
    path = token_secret.rotate(settings.data_dir)
    if args.json:
        emit_json({"rotated": True, "path": str(path)})
        return 0
    print(f"token secret rotated ({path}): every access token issued before is refused now")
    print("(by a running server within a second); API keys and passwords are unaffected")
    return 0


def reset_key(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    ensure_initialised(settings)

    def show(email: str, key: str) -> None:
        if args.json:
            emit_json({"email": email, "api_key": key})
        else:
            print(f"new API key for {email} (shown once, stored hashed):")
            print(f"  {key}")
        sys.stdout.flush()

    done = admin_key.reset_key(settings, show, email=args.email, revoke_others=args.revoke_others)
    if done.revoked and not args.json:
        warn(f"revoked the other API keys of {done.email}: {', '.join(map(str, done.revoked))}")
    return 0
