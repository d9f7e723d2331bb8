"""``appliance serve``: initialise, print the first admin key once, run uvicorn."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from appliance.cli.common import settings_from
from appliance.db.storage import refuse_read_only
from appliance.instance import InstanceLock


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


def _install_sample(settings: Any) -> None:
    """First start: the bundled ticker map and Apple filings, so the API has data offline."""
    from appliance.cli.common import open_db
    from appliance.edgar.sample import install_sample

    conn = open_db(settings)
    try:
        loaded = install_sample(conn)
    finally:
        conn.close()
    if loaded.symbols or loaded.filings:
        counts = loaded.filings.counts() if loaded.filings else {}
        print(f"  Loaded the bundled EDGAR sample: {counts}", file=sys.stderr, flush=True)


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
    result = initialize(settings)
    if settings.edgar_sample_on_first_start:
        _install_sample(settings)
    if result.admin_api_key:
        print(
            "\n  First start: created admin user "
            f"{result.admin_email}\n  Admin API key (shown once, stored hashed):\n\n"
            f"    {result.admin_api_key}\n",
            file=sys.stderr,
            flush=True,
        )
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,  # our middleware writes a structured access log
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    _server_class()(config).run()
    return 0
