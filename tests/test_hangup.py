"""A client that hangs up before its answer is not charged, and a request cut off by a stop
gets the JSON error; both against a real server on loopback."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any

from tests.helpers import wait_until
from tests.support.live import LiveServer, live_server

ENV = {"APPLIANCE_LOAD_MODELS": "false", "APPLIANCE_ECHO_ENDPOINT": "true"}


def _user(srv: LiveServer, email: str, credits: int) -> dict[str, Any]:
    status, user, _ = srv.request(
        "POST", "/v1/users", {"email": email, "credits": credits}, key=srv.admin_key
    )
    assert status == 201
    return user


def _remaining(srv: LiveServer, key: str) -> int:
    status, body, _ = srv.request("GET", "/v1/quota", key=key)
    assert status == 200
    return int(body["remaining"])


def _raw_post(srv: LiveServer, path: str, body: dict[str, Any], key: str) -> socket.socket:
    data = json.dumps(body).encode()
    port = int(srv.base.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    return sock


def test_a_client_that_hangs_up_mid_request_gets_its_credit_back(tmp_path: Path) -> None:
    with live_server(tmp_path / "d", **ENV) as srv:
        user = _user(srv, "h@example.com", 5)
        key = user["api_key"]
        before = _remaining(srv, key)  # 10 allowance + 5 purchased
        sock = _raw_post(srv, "/v1/echo", {"text": "slow", "delay_ms": 20_000}, key)
        wait_until(lambda: _remaining(srv, key) == before - 1, message="never charged")
        sock.close()  # hang up while the work is still running
        wait_until(lambda: _remaining(srv, key) == before, message="the charge stayed")
        _, usage, _ = srv.request("GET", "/v1/usage", key=key)
        assert [(e["status"], e["status_code"]) for e in usage["events"]] == [("refunded", 499)]
        # A client that waits is charged as usual.
        status, _, headers = srv.request(
            "POST", "/v1/echo", {"text": "x", "delay_ms": 200}, key=key
        )
        assert status == 200 and int(headers["x-credits-remaining"]) == before - 1
        assert _remaining(srv, key) == before - 1


def test_a_request_cut_off_by_a_stop_gets_json_and_no_charge(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    env = {**ENV, "APPLIANCE_SHUTDOWN_GRACE_SECONDS": "1"}
    with live_server(data_dir, **env) as srv:
        admin = srv.admin_key
        key = _user(srv, "s@example.com", 0)["api_key"]
        before = _remaining(srv, key)
        answers: list[Any] = []
        slow = threading.Thread(
            target=lambda: answers.append(
                srv.request("POST", "/v1/echo", {"text": "x", "delay_ms": 20_000}, key=key)
            )
        )
        slow.start()
        wait_until(lambda: _remaining(srv, key) == before - 1, message="never charged")
        srv.proc.terminate()
        slow.join(timeout=30)
        assert srv.proc.wait(timeout=30) == 0
        assert "Internal Server Error" not in srv.log()
    ((status, body, headers),) = answers
    assert status == 503 and body["error"]["code"] == "shutting_down", body
    assert body["error"]["request_id"] == headers["x-request-id"]
    with live_server(data_dir, admin_key=admin, **ENV) as srv:
        assert _remaining(srv, key) == before
