"""``appliance ...``: a thin CLI over the library. Each noun's commands live in their module.

A module exposes ``register(subparsers)``; each command sets ``func(args) -> int``. The exit
codes are documented in :mod:`appliance.cli.common`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from appliance import __version__, logs
from appliance.cli import (
    admin,
    billing,
    facts,
    filings,
    index,
    jobs,
    license,
    payments,
    release,
    serve,
    symbols,
    users,
)
from appliance.cli.common import (
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_PIPE_CLOSED,
    EXIT_USAGE,
)
from appliance.errors import ApplianceError

COMMAND_MODULES = [
    serve,
    admin,
    users,
    billing,
    license,
    payments,
    symbols,
    filings,
    facts,
    index,
    jobs,
    release,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="appliance", description="Self-hosted financial NLP appliance."
    )
    parser.add_argument("--version", action="version", version=f"appliance {__version__}")
    parser.add_argument("--config", help="TOML config file (default: config/appliance.toml)")
    parser.add_argument("--data-dir", help="data directory (env APPLIANCE_DATA_DIR)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    _add_global_options(sub)
    return parser


def _add_global_options(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Accept --config/--data-dir after the command too (``appliance init --data-dir X``)."""
    for parser in {id(p): p for p in sub.choices.values()}.values():
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            for action in nested:
                _add_global_options(action)
        else:
            parser.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
            parser.add_argument("--data-dir", default=argparse.SUPPRESS, help="data directory")


def exit_code(exc: ApplianceError) -> int:
    """Not found -> 3; any other refusal (bad input or configuration, exists already, another
    server running) -> 2; a failure while doing it -> 1."""
    if exc.status == 404:
        return EXIT_NOT_FOUND
    if exc.status >= 500:
        return EXIT_FAILED
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure()  # until the command's settings choose level and format
    try:
        code: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head -1`): stop quietly, as other Unix tools do, and keep
        # the interpreter from complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PIPE_CLOSED
    except ApplianceError as exc:
        for line in exc.message.splitlines():
            print(f"error: {line}", file=sys.stderr)
        return exit_code(exc)
    except (FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code
