"""What every fault test checks after its faults, and the figures the suite reports."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.live import LiveServer, free_port, server_env, spawn, stop, wait_ready


@dataclass
class Figures:
    """Counts of one test (the suite adds them up and prints the totals)."""

    runs: int = 0  # server processes started
    kills: int = 0  # SIGKILL or SIGTERM sent mid-work
    requests: int = 0  # billable requests sent
    successes: set[str] = field(default_factory=set)  # request ids answered 200
    reconciled: int = 0  # credits of answered calls matched to their usage event
    free_answers: int = 0  # answered, but the process died before its charge was finished

    def add(self, other: Figures) -> None:
        self.runs += other.runs
        self.kills += other.kills
        self.requests += other.requests
        self.reconciled += other.reconciled
        self.free_answers += other.free_answers


def usage_events(srv: LiveServer, key: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, page, _ = srv.request("GET", f"/v1/usage?limit=1000{cursor}", key=key)
        assert status == 200, page
        events += page["events"]
        if page["next_cursor"] is None:
            return events
        cursor = f"&cursor={page['next_cursor']}"


def charged_request_ids(srv: LiveServer, key: str) -> set[str]:
    return {e["request_id"] for e in usage_events(srv, key) if e["status"] == "charged"}


def reconcile(srv: LiveServer, key: str, figures: Figures) -> None:
    """No credit lost or spent twice, by request id: every call the client saw answered has
    its usage event (charged, or refunded by start-up recovery when the process died before
    finishing it: a free answer, never a lost credit); nothing unanswered stays charged; no
    request is charged twice."""
    events = usage_events(srv, key)
    charged = collections.Counter(e["request_id"] for e in events if e["status"] == "charged")
    refunded = {e["request_id"] for e in events if e["status"] == "refunded"}
    twice = [rid for rid, n in charged.items() if n > 1]
    assert not twice, f"charged twice: {twice[:5]}"
    unanswered = set(charged) - figures.successes
    assert not unanswered, f"charged without an answer: {sorted(unanswered)[:5]}"
    missing = figures.successes - set(charged) - refunded
    assert not missing, f"answered without a usage event: {sorted(missing)[:5]}"
    figures.reconciled += sum(charged.values())
    figures.free_answers += len(figures.successes & refunded)


def start(
    data_dir: Path, admin_key: str, figures: Figures, log_dir: Path, **env: str
) -> LiveServer:
    """One more run of a server on ``data_dir`` (already initialised), ready."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = log_dir / f"serve-{figures.runs}-{port}.log"
    proc = spawn(data_dir, port, log_path, **env)
    figures.runs += 1
    try:
        wait_ready(proc, base, log_path, timeout=180)
    except BaseException:
        stop(proc)
        raise
    return LiveServer(base, admin_key, proc, data_dir, log_path)


def kill(srv: LiveServer, sig: signal.Signals, figures: Figures) -> None:
    srv.proc.send_signal(sig)
    srv.proc.wait(timeout=120)
    figures.kills += 1


def db_check(data_dir: Path) -> None:
    """`appliance db check` as an operator runs it, between runs."""
    done = subprocess.run(
        [sys.executable, "-m", "appliance", "db", "check", "--data-dir", str(data_dir)],
        env=server_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
