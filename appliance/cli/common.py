"""Helpers shared by the CLI modules."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from appliance.bootstrap import initialize
from appliance.db.connection import Connection
from appliance.db.database import SyncDatabase, open_session
from appliance.settings import Settings, load_settings

P = ParamSpec("P")
T = TypeVar("T")


def settings_from(args: argparse.Namespace, **flags: Any) -> Settings:
    config = Path(args.config) if getattr(args, "config", None) else None
    data_dir = getattr(args, "data_dir", None)
    return load_settings(config, data_dir=Path(data_dir) if data_dir else None, **flags)


@contextlib.contextmanager
def session(settings: Settings) -> Iterator[SyncDatabase]:
    """The database for one command, in synchronous mode: initialised first if needed
    (idempotent), then one connection; each ``db.write`` is its own transaction."""
    initialize(settings)
    with open_session(settings) as db:
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
    """One read function: ``session(settings)`` for a command that does nothing else."""
    with session(settings) as db:
        return db.read(fn, *args, **kwargs)


def emit_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=None, default=str)
    sys.stdout.write("\n")
