"""Helpers shared by the CLI modules.

Exit codes (README "CLI"): 0 done; 1 failed (the command ran but did not do what it was
asked: a file failed to import, a --ref already granted, nothing to index, an internal
error); 2 usage or configuration error (bad arguments or settings, an uninitialised data dir,
a refusal such as "exists already"); 3 not found; 141 the reader of a pipe closed it early.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from appliance import logs
from appliance.bootstrap import InitResult, initialize
from appliance.db.connection import Connection, connect_readonly
from appliance.db.database import SyncDatabase, open_session
from appliance.db.sqlite import SqliteSession
from appliance.db.storage import read_only
from appliance.errors import ApplianceError
from appliance.settings import Settings, load_settings

P = ParamSpec("P")
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
    install (with an admin nobody has the key of) where the operator expected theirs. (On
    PostgreSQL the database is named by ``database_url``: there is no file to look for, and
    migrating an empty database creates no admin.)"""
    if not settings.database_url and not settings.db_path.exists():
        raise NotInitialised(
            f"no appliance database in {describe_data_dir(settings)}; "
            "point --data-dir or APPLIANCE_DATA_DIR at your data dir, "
            "or create a new one with 'appliance init'"
        )


def ensure_initialised(settings: Settings) -> InitResult:
    """An existing data dir, migrated if this version brings migrations."""
    require_data_dir(settings)
    return initialize(settings, create_admin=False)


@contextlib.contextmanager
def session(settings: Settings) -> Iterator[SyncDatabase]:
    """The database for one command, in synchronous mode, on an initialised data dir only
    (migrated first if this version brings migrations): one connection, and each
    ``db.write`` is its own transaction."""
    ensure_initialised(settings)
    with open_session(settings) as db:
        yield db


@contextlib.contextmanager
def reading_session(settings: Settings) -> Iterator[SyncDatabase]:
    """:func:`session`, except on a read-only data dir (a read-only mount, a copy on a DVD):
    there the SQLite file is opened read-only as it is, so it can still be listed and backed
    up."""
    if not settings.database_url and read_only(settings.data_dir):
        require_data_dir(settings)
        lite = SqliteSession(connect_readonly(settings.db_path))
        try:
            yield lite
        finally:
            lite.close()
        return
    with session(settings) as db:
        yield db


def write(
    settings: Settings,
    fn: Callable[Concatenate[Connection, P], T],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """One write function in its own transaction: ``session(settings)`` for a command that
    does nothing else."""
    with session(settings) as db:
        return db.write(fn, *args, **kwargs)


def read(
    settings: Settings,
    fn: Callable[Concatenate[Connection, P], T],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """One read function: ``reading_session(settings)`` for a command that does nothing
    else."""
    with reading_session(settings) as db:
        return db.read(fn, *args, **kwargs)


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
