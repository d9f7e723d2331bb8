"""A real uvicorn server on a free loopback port, spoken to over HTTP."""

from __future__ import annotations

from pathlib import Path

from tests.live import live_server


def test_serve_over_http_and_stop_cleanly(tmp_path: Path) -> None:
    with live_server(tmp_path / "d", APPLIANCE_LOAD_MODELS="false") as srv:
        status, body, headers = srv.request("GET", "/v1/me", key=srv.admin_key)
        assert status == 200 and body["is_admin"] is True
        assert headers["x-request-id"]
        status, body, _ = srv.request("GET", "/v1/me")
        assert status == 401 and body["error"]["code"] == "unauthorized"
        srv.proc.terminate()
        assert srv.proc.wait(timeout=30) == 0  # graceful shutdown exits 0
