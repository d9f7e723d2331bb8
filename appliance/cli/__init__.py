"""``appliance ...``: a thin CLI over the library. Each noun's commands live in their module.

A module exposes ``register(subparsers)``; each command sets ``func(args) -> int``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from appliance import __version__
from appliance.cli import (
    admin,
    billing,
    facts,
    filings,
    index,
    license,
    payments,
    serve,
    symbols,
    users,
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        code: int = args.func(args)
    except ApplianceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2 if exc.status < 500 else 1
    except (FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
