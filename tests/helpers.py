"""Small helpers the tests import (fixtures stay in conftest.py; bigger support modules, such
as the live server and the fake Stripe, live in tests/support/)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from starlette.testclient import TestClient

from appliance.cli import main
from appliance.db.check import check
from appliance.db.connection import connect_readonly

T = TypeVar("T")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def make_user(client: TestClient, admin_key: str, email: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/v1/users", json={"email": email, **extra}, headers=auth(admin_key))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def wait_until(
    probe: Callable[[], T],
    *,
    timeout: float = 60,
    interval: float = 0.05,
    message: str | Callable[[], str] = "condition never held",
) -> T:
    """Call ``probe`` until it returns something truthy and return that; fail the test with
    ``message`` (a string, or a callable for a message built from the last state) after
    ``timeout`` seconds. The one polling loop of the test suite."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"after {timeout:g} s: {text}")
        time.sleep(interval)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """``appliance ARGV...`` in-process; the exit code and what it printed on stdout."""
    code = main(list(argv))
    return code, capsys.readouterr().out


def assert_books_balance(db_path: Path) -> None:
    """What `appliance db check` checks, on ``db_path``: SQLite's quick_check, and for every
    user balance = ledger - usage, a whole index."""
    conn = connect_readonly(db_path)
    try:
        report = check(conn)
    finally:
        conn.close()
    assert report.ok, f"{db_path}: " + "; ".join(report.problems)


def init_dir(capsys: pytest.CaptureFixture[str], path: Path) -> str:
    """A data dir made by ``appliance init`` (every other command refuses one without a
    database); returns it as the ``--data-dir`` argument."""
    assert main(["init", "--json", "--data-dir", str(path)]) == 0
    capsys.readouterr()
    return str(path)
