"""Fuzz the running API from its own OpenAPI document: no request may produce a 500."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.live import live_server


def test_no_request_from_the_openapi_document_produces_a_500(tmp_path: Path) -> None:
    # The billable echo is on, so the billing seam (Idempotency-Key, 402, 429) is fuzzed too.
    env = {"APPLIANCE_LOAD_MODELS": "false", "APPLIANCE_ECHO_ENDPOINT": "true"}
    with live_server(tmp_path / "d", **env) as srv:
        st = Path(sys.executable).with_name("st")
        cmd = [
            str(st),
            "run",
            f"{srv.base}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            os.environ.get("FUZZ_EXAMPLES", "60"),
            "--seed",
            "20261126",
            "--header",
            f"Authorization: Bearer {srv.admin_key}",
            "--request-timeout",
            "20",
            "--exclude-path",
            "/metrics",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
