"""Helpers shared by the CLI modules."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from appliance.bootstrap import initialize
from appliance.db.connection import Connection, connect, connect_readonly, transaction
from appliance.db.storage import read_only
from appliance.settings import Settings, load_settings

T = TypeVar("T")


def settings_from(args: argparse.Namespace, **flags: Any) -> Settings:
    config = Path(args.config) if getattr(args, "config", None) else None
    data_dir = getattr(args, "data_dir", None)
    return load_settings(config, data_dir=Path(data_dir) if data_dir else None, **flags)


def open_db(settings: Settings) -> Connection:
    """Initialise if needed (idempotent) and open a connection for one CLI command."""
    initialize(settings)
    return connect(
        settings.db_path,
        synchronous=settings.db_synchronous,
        busy_timeout_ms=settings.db_busy_timeout_ms,
    )


def write(settings: Settings, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one write function in its own BEGIN IMMEDIATE transaction."""
    conn = open_db(settings)
    try:
        with transaction(conn):
            return fn(conn, *args, **kwargs)
    finally:
        conn.close()


def open_for_reading(settings: Settings) -> Connection:
    """:func:`open_db`, except on a read-only data dir (a read-only mount, a copy on a DVD):
    there the database is opened read-only as it is, so it can still be listed and backed
    up."""
    if read_only(settings.data_dir):
        return connect_readonly(settings.db_path)
    return open_db(settings)


def read(settings: Settings, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    conn = open_for_reading(settings)
    try:
        return fn(conn, *args, **kwargs)
    finally:
        conn.close()


def emit_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=None, default=str)
    sys.stdout.write("\n")
