"""Small helpers the tests import (fixtures stay in conftest.py; bigger support modules, such
as the live server and the fake Stripe, live in tests/support/)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from starlette.testclient import TestClient

from appliance.cli import main

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
