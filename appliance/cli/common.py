"""Helpers shared by the CLI modules.

Exit codes (README "CLI"): 0 done; 1 failed (the command ran but did not do what it was
asked: a file failed to import, a --ref already granted, nothing to index, an internal
error); 2 usage or configuration error (bad arguments or settings, an uninitialised data dir,
a refusal such as "exists already"); 3 not found; 141 the reader of a pipe closed it early.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from appliance import logs
from appliance.bootstrap import InitResult, initialize
from appliance.db.connection import Connection, connect, connect_readonly, transaction
from appliance.db.storage import read_only
from appliance.errors import ApplianceError
from appliance.settings import Settings, load_settings

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE, as other Unix tools report it


class NotInitialised(ApplianceError):
    """The data dir holds no appliance database: a typo, or another directory than usual."""

    status = 400
    code = "data_dir_not_initialised"


def settings_from(args: argparse.Namespace, **flags: Any) -> Settings:
    """The command's settings (flags over env over file), and its logging set up from them."""
    config = Path(args.config) if getattr(args, "config", None) else None
    data_dir = getattr(args, "data_dir", None)
    settings = load_settings(config, data_dir=Path(data_dir) if data_dir else None, **flags)
    logs.configure(settings.log_level, settings.log_format)
    return settings


def describe_data_dir(settings: Settings) -> str:
    """The resolved data dir and how it was chosen, for messages."""
    source = settings.source_of("data_dir")
    shown = settings.data_dir.resolve()
    if source.kind == "default":
        how = f"the default, {settings.data_dir} in the current directory {Path.cwd()}"
    else:
        how = str(source)
    return f"{shown} (data_dir from {how})"


def require_data_dir(settings: Settings) -> None:
    """Refuse to run against a data dir that was never initialised, rather than create a new
    install (with an admin nobody has the key of) where the operator expected theirs."""
    if not settings.db_path.exists():
        raise NotInitialised(
            f"no appliance database in {describe_data_dir(settings)}; "
            "point --data-dir or APPLIANCE_DATA_DIR at your data dir, "
            "or create a new one with 'appliance init'"
        )


def ensure_initialised(settings: Settings) -> InitResult:
    """An existing data dir, migrated if this version brings migrations."""
    require_data_dir(settings)
    return initialize(settings, create_admin=False)


def open_db(settings: Settings) -> Connection:
    """Open a connection for one CLI command, on an initialised data dir only."""
    ensure_initialised(settings)
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
        require_data_dir(settings)
        return connect_readonly(settings.db_path)
    return open_db(settings)


def read(settings: Settings, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    conn = open_for_reading(settings)
    try:
        return fn(conn, *args, **kwargs)
    finally:
        conn.close()


def emit_json(obj: Any) -> None:
    """One JSON value on one line (commands that print several emit JSON Lines)."""
    json.dump(obj, sys.stdout, indent=None, default=str)
    sys.stdout.write("\n")


def warn(message: str) -> None:
    """A message for the person running the command: stderr, never mixed into data."""
    print(message, file=sys.stderr, flush=True)


def stdout_is_terminal() -> bool:
    try:
        return os.isatty(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        return False
