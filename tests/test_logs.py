"""One log format for the whole process, timestamps in UTC, request ids, expected failures in
one line, and secrets that never reach the stream (the run-wide audit is in
tests/support/log_audit.py)."""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.request
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, request_response
from starlette.testclient import TestClient

from appliance import accounts
from appliance.app import create_app
from appliance.cli.common import write
from appliance.logs import JsonFormatter, TextFormatter, redact, request_context
from tests.helpers import auth
from tests.support.live import free_port, live_server
from tests.support.log_audit import leaks
from tests.support.rag import make_settings

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) +\S+: "
)


def test_a_live_server_writes_one_json_format_for_everything(tmp_path: Path) -> None:
    with live_server(
        tmp_path / "d", APPLIANCE_LOAD_MODELS="false", APPLIANCE_ACCESS_LOG="true",
        APPLIANCE_LOG_FORMAT="json",
    ) as srv:  # fmt: skip
        req = urllib.request.Request(
            srv.base + "/v1/me",
            headers={"Authorization": f"Bearer {srv.admin_key}", "X-Request-ID": "trace-42"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
        srv.proc.terminate()
        assert srv.proc.wait(timeout=60) == 0
    lines = srv.log().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(STAMP.match(r["ts"]) and r["level"] and r["logger"] for r in records)
    loggers = {r["logger"] for r in records}
    assert {"uvicorn.error", "appliance.access"} <= loggers, loggers  # uvicorn's own lines too
    access = [r for r in records if r["logger"] == "appliance.access"]
    me = next(r for r in access if r["path"] == "/v1/me")
    assert (me["request_id"], me["status"], me["method"]) == ("trace-42", 200, "GET")
    assert me["duration_ms"] >= 0 and me["user_id"] == 1
    assert srv.admin_key not in srv.log()


def test_text_format_for_a_person(tmp_path: Path) -> None:
    with live_server(
        tmp_path / "d", APPLIANCE_LOAD_MODELS="false", APPLIANCE_LOG_FORMAT="text"
    ) as srv:
        srv.proc.terminate()
        srv.proc.wait(timeout=60)
    lines = [line for line in srv.log().splitlines() if line.strip()]
    assert lines and all(TEXT_LINE.match(line) for line in lines), lines
    assert any("uvicorn.error: Application startup complete" in line for line in lines)


def test_lines_logged_while_serving_a_request_carry_its_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path / "d", load_models=False)
    from appliance.bootstrap import initialize

    admin = initialize(settings).admin_api_key
    assert admin
    app = create_app(settings)

    async def noisy(request: Request) -> JSONResponse:
        logging.getLogger("appliance.test").warning("inside the handler")
        return JSONResponse({"ok": True})

    # Any handler: swap the one behind /healthz for one that logs.
    route = next(r for r in app.routes if isinstance(r, Route) and r.path == "/healthz")
    route.app = request_response(noisy)
    json_lines, text_lines = _Lines(JsonFormatter()), _Lines(TextFormatter())
    root = logging.getLogger()
    root.addHandler(json_lines)
    root.addHandler(text_lines)
    try:
        with TestClient(app) as c, caplog.at_level(logging.INFO):
            assert c.get("/healthz", headers={"X-Request-ID": "req-7"}).status_code == 200
    finally:
        root.removeHandler(json_lines)
        root.removeHandler(text_lines)
    inside = next(json.loads(x) for x in json_lines.lines if "inside the handler" in x)
    assert inside["request_id"] == "req-7" and inside["logger"] == "appliance.test"
    assert any("inside the handler request_id=req-7" in x for x in text_lines.lines)
    assert admin not in caplog.text


class _Lines(logging.Handler):
    """Formats at emit time, in the logging code's context, as the real handler does."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_an_expected_failure_is_one_line_without_a_traceback(
    rag_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # EDGAR unreachable, as offline
    settings = make_settings(
        rag_data,
        edgar_user_agent="Appliance Tests tests@example.com",
        edgar_www_url=dead,
        edgar_data_url=dead,
        edgar_max_retries=0,
        edgar_timeout_seconds=2,
    )
    key = write(settings, accounts.create_user, "o@x.io", None, is_admin=True).api_key
    with TestClient(create_app(settings)) as c, caplog.at_level(logging.INFO):
        job = c.post("/ops/index?ticker=MSFT", headers=auth(key)).json()["job_id"]
        deadline = time.time() + 60
        while time.time() < deadline:
            if c.get(f"/ops/jobs/{job}", headers=auth(key)).json()["status"] == "failed":
                break
            time.sleep(0.05)
    failed = [r for r in caplog.records if f"indexing job {job} failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info is None
    assert "EDGAR" in failed[0].getMessage()
    assert "\n" not in JsonFormatter().format(failed[0])


def test_secrets_are_redacted_by_shape_whoever_logs_them() -> None:
    secrets = {
        "apk_1a2b3c4d_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5": "apk_[redacted]",
        "at1.eyJzdWIiOjF9.c2lnbmF0dXJlc2lnbmF0dXJl": "at1.[redacted]",
        "APL1.eyJraWQiOiJ4In0.c2lnbmF0dXJl": "APL1.[redacted]",
        "sk_live_51Habcdefghijklmnop": "sk_live_[redacted]",
        "whsec_abcdefghijklmnop": "whsec_[redacted]",
    }
    for secret, shown in secrets.items():
        record = logging.LogRecord("stripe", logging.INFO, __file__, 1, "sent %s", (secret,), None)
        for formatter in (JsonFormatter(), TextFormatter()):
            line = formatter.format(record)
            assert secret not in line and shown in line
    assert redact('{"Authorization": "Bearer abc.def"}') == '{"Authorization": "Bearer [redacted]"}'
    with request_context("r-1"):
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, None)
        assert json.loads(JsonFormatter().format(record))["request_id"] == "r-1"


def test_the_audit_catches_a_leak() -> None:
    # The run-wide check must be able to fail: it finds recorded values and secret shapes.
    text = "user said hunter2hunter2 and apk_0badc0de_leakedkeyvalue"
    found = leaks(text, {"hunter2hunter2", "not-in-the-text"})
    assert len(found) == 2 and any("by its shape" in f for f in found)
    assert leaks(redact("key apk_0badc0de_leakedkeyvalue"), set()) == []
