"""A full disk and a read-only data dir, with real servers and the real CLI."""

from __future__ import annotations

import http.client
import json
import resource
import uuid
from pathlib import Path
from typing import Any

import pytest

from appliance.cli import main
from tests.faults.support import Figures, charged_request_ids, reconcile
from tests.helpers import init_dir, run_cli, wait_until
from tests.support.live import LiveServer, live_server
from tests.support.media import fill, read_only_view, small_disk

ENV = {
    "APPLIANCE_LOAD_MODELS": "false",
    "APPLIANCE_ECHO_ENDPOINT": "true",
    "APPLIANCE_RATE_LIMIT_PER_SECOND": "0",
    "APPLIANCE_EDGAR_SAMPLE_ON_FIRST_START": "false",
    "APPLIANCE_INDEX_ON_START": "false",
}


def _echo(conn: http.client.HTTPConnection, key: str) -> tuple[int, Any, str]:
    request_id = uuid.uuid4().hex
    conn.request(
        "POST",
        "/v1/echo",
        body=json.dumps({"text": "x" * 200}),
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "X-Request-ID": request_id,
        },
    )
    r = conn.getresponse()
    return r.status, json.loads(r.read()), request_id


def _readiness(srv: LiveServer) -> tuple[int, Any]:
    status, body, _ = srv.request("GET", "/readyz")
    return status, body


def _until_full(srv: LiveServer, key: str, figures: Figures) -> dict[str, int]:
    """Billable calls on one kept-alive connection until the disk refuses one; every answer
    is a 200 or a 503 storage_full, and the connection survives the 503."""
    port = int(srv.base.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    seen = {200: 0, 503: 0}
    try:
        for _ in range(2000):
            status, body, request_id = _echo(conn, key)
            figures.requests += 1
            assert status in (200, 503), body
            seen[status] += 1
            if status == 200:
                figures.successes.add(request_id)
            else:
                assert body["error"]["code"] == "storage_full", body
                sock = conn.sock
                again, _, _ = _echo(conn, key)  # the same connection answers again
                figures.requests += 1
                assert conn.sock is sock and again in (200, 503)
                if again == 503:
                    break
    finally:
        conn.close()
    assert seen[503], "the disk never filled up"
    return seen


def test_a_full_disk_is_503_storage_full_and_recovers_when_space_is_freed(
    tmp_path: Path, fault_figures: Figures
) -> None:
    disk = tmp_path / "disk"
    with small_disk(disk, 16) as mounted:
        if not mounted:
            pytest.skip("mounting a tmpfs needs root; the file-size-limit test covers this")
        data_dir = disk / "data"
        with live_server(data_dir, **ENV) as srv:
            fault_figures.runs += 1
            status, user, _ = srv.request(
                "POST",
                "/v1/users",
                {"email": "f@example.com", "credits": 100_000},
                key=srv.admin_key,
            )
            key = user["api_key"]
            filler = fill(disk)
            _until_full(srv, key, fault_figures)
            status, body = _readiness(srv)
            assert status == 503 and not body["components"]["database"]["ready"]
            assert "full" in body["components"]["database"]["detail"]
            filler.unlink()
            wait_until(lambda: _readiness(srv)[0] == 200, timeout=30, message="never ready again")
            status, _, _ = srv.request(
                "POST", "/v1/echo", {"text": "back"}, key=key, headers={"X-Request-ID": "back"}
            )
            assert status == 200
            fault_figures.successes.add("back")
            # Every answered call was charged exactly once, and nothing else was.
            assert charged_request_ids(srv, key) == fault_figures.successes
            reconcile(srv, key, fault_figures)
        # Starting on a full disk says so in one line (and serves, not ready, or refuses).
        filler = fill(disk)
        try:
            with live_server(
                data_dir, admin_key=srv.admin_key, ready_path="/healthz", log_dir=tmp_path, **ENV
            ) as again:
                assert _readiness(again)[0] == 503
                lines = [x for x in again.log().splitlines() if "full" in x]
                assert len(lines) == 1 and "starting on a full disk" in lines[0], again.log()
                filler.unlink()
                wait_until(lambda: _readiness(again)[0] == 200, timeout=30)
        except RuntimeError as exc:  # refused to start: one line, naming the full disk
            errors = [x for x in str(exc).splitlines() if x.startswith("error:")]
            assert len(errors) == 1 and "full" in errors[0], str(exc)
        finally:
            filler.unlink(missing_ok=True)
        assert main(["db", "check", "--data-dir", str(data_dir)]) == 0


def _file_size_limit(limit: int) -> Any:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_file_size_limit_is_503_storage_full_too(tmp_path: Path, fault_figures: Figures) -> None:
    data_dir = tmp_path / "d"
    with live_server(data_dir, **ENV) as srv:
        _, user, _ = srv.request(
            "POST", "/v1/users", {"email": "l@example.com", "credits": 100_000}, key=srv.admin_key
        )
        key = user["api_key"]
    wal = data_dir / "appliance.sqlite3-wal"
    limit = (data_dir / "appliance.sqlite3").stat().st_size + 64 * 1024
    with live_server(
        data_dir,
        admin_key=srv.admin_key,
        ready_path="/healthz",
        preexec_fn=_file_size_limit(limit),
        **ENV,
    ) as limited:
        _until_full(limited, key, fault_figures)
        assert _readiness(limited)[0] == 503
        assert not wal.exists() or wal.stat().st_size <= limit
    with live_server(data_dir, admin_key=srv.admin_key, **ENV) as free:
        reconcile(free, key, fault_figures)
    assert main(["db", "check", "--data-dir", str(data_dir)]) == 0


def test_a_read_only_data_dir_can_be_listed_and_backed_up_not_served(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "d"
    init_dir(capsys, d)
    assert (
        run_cli(capsys, "users", "create", "r@example.com", "--credits", "4", "--data-dir", str(d))[
            0
        ]
        == 0
    )
    with read_only_view(d, tmp_path / "ro") as ro:
        assert main(["serve", "--port", "0", "--data-dir", str(ro)]) != 0
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "data dir is read-only" in err, err
        code, out = run_cli(capsys, "users", "list", "--json", "--data-dir", str(ro))
        assert code == 0
        assert [json.loads(x)["email"] for x in out.splitlines()] == [
            "admin@localhost",
            "r@example.com",
        ]
        copy = tmp_path / "copy.sqlite3"
        code, out = run_cli(capsys, "backup", "--out", str(copy), "--data-dir", str(ro))
        assert code == 0 and copy.stat().st_size > 0
        assert run_cli(capsys, "db", "check", "--data-dir", str(ro))[0] == 0
        assert main(["users", "create", "w@example.com", "--data-dir", str(ro)]) != 0
        assert "data dir is read-only" in capsys.readouterr().err
