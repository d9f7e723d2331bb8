"""A real uvicorn server on a free loopback port, spoken to over HTTP."""

from __future__ import annotations

from pathlib import Path

from tests.support.live import live_server


def test_serve_over_http_and_stop_cleanly(tmp_path: Path) -> None:
    with live_server(tmp_path / "d", APPLIANCE_LOAD_MODELS="false") as srv:
        status, body, headers = srv.request("GET", "/v1/me", key=srv.admin_key)
        assert status == 200 and body["is_admin"] is True
        assert headers["x-request-id"]
        status, body, _ = srv.request("GET", "/v1/me")
        assert status == 401 and body["error"]["code"] == "unauthorized"
        srv.proc.terminate()
        assert srv.proc.wait(timeout=30) == 0  # graceful shutdown exits 0


def test_a_second_server_on_the_same_data_dir_refuses_to_start(tmp_path: Path) -> None:
    import subprocess
    import sys

    from starlette.testclient import TestClient

    from appliance.app import create_app
    from appliance.instance import AlreadyRunning
    from appliance.settings import load_settings

    d = tmp_path / "d"
    with live_server(d, APPLIANCE_LOAD_MODELS="false") as srv:
        # Another process: exits with a clear message instead of serving beside the first.
        second = subprocess.run(
            [sys.executable, "-m", "appliance", "serve", "--port", "0", "--data-dir", str(d)],
            capture_output=True,
            text=True,
            timeout=120,
            env={"APPLIANCE_LOAD_MODELS": "false", "PATH": "/usr/bin:/bin"},
        )
        assert second.returncode == 2
        assert second.stderr.startswith("error: another appliance server")
        assert f"pid {srv.proc.pid}" in second.stderr
        status, _, _ = srv.request("GET", "/healthz")
        assert status == 200
    # Once the first has stopped, the data dir can be served again (in-process here).
    settings = load_settings(data_dir=d, load_models=False, access_log=False)
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
        try:
            with TestClient(create_app(settings)):
                raise AssertionError("a second app on the same data dir started")
        except AlreadyRunning:
            pass
