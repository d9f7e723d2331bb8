"""``appliance serve``: initialise, print the first admin key once, run uvicorn.

A first start in order: data dir and migrations; the admin's key printed to standard output
(the terminal, not the log on stderr) *before* the admin is stored; then the bundled sample,
whose import records its progress and is completed by the next start if this one is killed.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from appliance.admin_key import create_first_admin
from appliance.cli.common import settings_from
from appliance.db.storage import refuse_read_only
from appliance.instance import InstanceLock

log = logging.getLogger("appliance.serve")


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the REST API (and background indexer)")
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (default 8000, env APPLIANCE_PORT)")
    p.set_defaults(func=run)


def _server_class() -> type[Any]:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises SIGTERM/SIGINT after a graceful shutdown, so a clean stop would
        look like a crash (exit -15) to scripts; we exit 0 once shutdown has completed."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

    return Server


def _complete_sample(settings: Any) -> None:
    """The bundled ticker map and Apple filings, so the API has data offline (resumable)."""
    from appliance.cli.common import open_db
    from appliance.edgar.sample import complete_sample

    conn = open_db(settings)
    try:
        loaded = complete_sample(conn)
    finally:
        conn.close()
    if loaded is not None and (loaded.symbols or loaded.filings):
        counts = loaded.filings.counts() if loaded.filings else {}
        done = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        log.info("bundled EDGAR sample loaded: %s", done or "the ticker map")


def _show_first_key(email: str, key: str) -> None:
    # stdout, flushed before the admin exists: the key is never in the log stream (stderr).
    print(
        f"\n  First start: created admin user {email}\n"
        f"  Admin API key (shown once, stored hashed):\n\n    {key}\n",
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from appliance.app import create_app
    from appliance.bootstrap import initialize

    settings = settings_from(args, host=args.host, port=args.port)
    refuse_read_only(settings.data_dir, "serve")
    # A clear refusal before any start-up work; the app's lifespan holds the lock for real.
    probe = InstanceLock(settings.data_dir)
    probe.acquire()
    probe.release()
    initialize(settings, create_admin=False)
    create_first_admin(settings, _show_first_key)
    if settings.edgar_sample_on_first_start:
        _complete_sample(settings)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,  # uvicorn's lines go through our handler, in our format
        access_log=False,  # our middleware writes the access log
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    _server_class()(config).run()
    return 0
