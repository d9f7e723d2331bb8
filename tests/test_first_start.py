"""An interrupted first start loses nothing: real servers killed at points of their first start.

The invariants after every kill and restart: an admin exists only if its key was printed
(so the last key printed works, and a key printed for an admin that was never stored is
refused), exactly one admin, the bundled sample complete (5 filings, its progress record
"done"), and the admin key never in the server's log stream.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from appliance.db.connection import connect
from tests.support.live import free_port, server_env

KEY = re.compile(r"apk_[0-9a-f]{8}_[A-Za-z0-9_-]+")
SAMPLE_FILINGS = 5


class Run:
    """One ``appliance serve`` whose stdout goes to a file (readable while it runs)."""

    def __init__(self, data_dir: Path, port: int) -> None:
        env = server_env(data_dir, port, APPLIANCE_LOAD_MODELS="false", APPLIANCE_LOG_FORMAT="json")
        self.port = port
        run = time.monotonic_ns()
        # stdout (where the key is printed) and stderr (the log) apart: the key must never be
        # in the log. serve-*.log files are also read by the run-wide secrets check.
        self.stdout = data_dir.parent / f"stdout-{run}.txt"
        self.log = data_dir.parent / f"serve-first-start-{run}.log"
        with self.stdout.open("w") as out, self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "appliance", "serve"], env=env, stdout=out, stderr=log
            )

    def keys(self) -> list[str]:
        return KEY.findall(self.stdout.read_text()) if self.stdout.exists() else []

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=60)


def db_value(data_dir: Path, sql: str) -> object:
    db = data_dir / "appliance.sqlite3"
    if not db.exists():
        return None
    conn = connect(db)
    try:
        row = conn.execute(sql).fetchone()
        return None if row is None else row[0]
    except Exception:  # tables not created yet
        return None
    finally:
        conn.close()


def admins(data_dir: Path) -> int:
    return int(db_value(data_dir, "SELECT count(*) FROM users WHERE is_admin = 1") or 0)


def wait_for(check: Callable[[], bool], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.005)
    return False


def get(port: int, path: str, key: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError):
        return 0


def finish(data_dir: Path, printed: list[str], logs: list[Path]) -> None:
    """Restart without a kill and check every invariant."""
    stored = admins(data_dir)
    assert stored == 0 or (stored == 1 and printed), (stored, printed)
    run = Run(data_dir, free_port())
    logs.append(run.log)
    try:
        assert wait_for(lambda: get(run.port, "/readyz") == 200 or run.proc.poll() is not None)
        assert run.proc.poll() is None, "the restart failed"
        again = run.keys()
        # A new key only when no admin had been stored; never a second admin.
        assert len(again) == (0 if stored else 1), (stored, again)
        printed = printed + again
        working = [k for k in printed if get(run.port, "/v1/me", k) == 200]
        refused = [k for k in printed if get(run.port, "/v1/me", k) == 401]
    finally:
        run.stop()
    assert working == printed[-1:] and len(refused) == len(printed) - 1, (working, refused)
    assert admins(data_dir) == 1
    assert db_value(data_dir, "SELECT count(*) FROM filings") == SAMPLE_FILINGS
    assert db_value(data_dir, "SELECT value FROM meta WHERE key = 'sample_import'") == "done"
    for path in logs:
        text = path.read_text()
        assert "Traceback" not in text
        assert not KEY.search(text), "the admin key reached the log stream"


@pytest.mark.parametrize(
    ("moment", "sig"),
    [
        ("database file created", signal.SIGKILL),
        ("key printed", signal.SIGKILL),
        # (SIGTERM before uvicorn runs ends the process the same way.)
        ("sample import running", signal.SIGKILL),
    ],
)
def test_a_first_start_killed_anywhere_completes_on_the_next(
    tmp_path: Path, moment: str, sig: int
) -> None:
    data_dir = tmp_path / "data"
    run = Run(data_dir, free_port())
    moments: dict[str, Callable[[], bool]] = {
        "database file created": lambda: (data_dir / "appliance.sqlite3").exists(),
        "key printed": lambda: bool(run.keys()),
        "sample import running": lambda: (
            db_value(data_dir, "SELECT value FROM meta WHERE key = 'sample_import'") == "pending"
        ),
    }
    try:
        assert wait_for(lambda: moments[moment]() or run.proc.poll() is not None)
        assert run.proc.poll() is None, "the first start ended before the moment came"
    finally:
        run.stop(sig)
    printed = run.keys()
    if moment == "sample import running":
        assert printed, "the key is shown before anything slow"
        assert (db_value(data_dir, "SELECT count(*) FROM filings") or 0) < SAMPLE_FILINGS
    finish(data_dir, printed, [run.log])


def test_init_stores_no_admin_whose_key_it_could_not_print(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = server_env(data_dir)
    cmd = [sys.executable, "-m", "appliance", "init", "--json"]
    with open("/dev/full", "w") as full:  # every write fails: the key cannot be shown
        failed = subprocess.run(cmd, env=env, stdout=full, stderr=subprocess.PIPE, text=True)
    assert failed.returncode != 0
    assert admins(data_dir) == 0, "an admin was stored though its key was never printed"
    ok = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    key = json.loads(ok.stdout)["admin_api_key"]
    assert key and admins(data_dir) == 1
    assert os.stat(data_dir).st_mode & 0o777 == 0o700
