"""Fuzz the running API from its own OpenAPI document: no request may produce a 500."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.support.fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe, serve
from tests.support.live import live_server


# As long as the run it waits for (the subprocess timeout below): the suite-wide 300 s cut it
# short on a loaded 2-core machine.
@pytest.mark.timeout(900)
def test_no_request_from_the_openapi_document_produces_a_500(tmp_path: Path) -> None:
    # Stripe configured (against the fake), so the payment endpoints are exercised rather
    # than answering 503 billing_disabled; the billable echo is on, so the billing seam
    # (Idempotency-Key, 402, 429) is fuzzed too; the models are loaded, so sentiment is real.
    with (
        serve(FakeStripe()) as stripe_base,
        live_server(
            tmp_path / "d",
            APPLIANCE_ECHO_ENDPOINT="true",
            APPLIANCE_STRIPE_SECRET_KEY=API_KEY,
            APPLIANCE_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            APPLIANCE_STRIPE_API_BASE=stripe_base,
        ) as srv,
    ):
        # Fuzz the steady state: while the first-start sample is being indexed a question
        # rightly answers 503 index_building (documented, uncharged), which the server-error
        # check would count against it.
        def indexed() -> bool:
            _, ready, _ = srv.request("GET", "/readyz")
            index = str(ready["components"]["retrieval"]["detail"]).split(";")[0]
            return index.endswith(" chunks indexed") and not index.startswith("0 ")

        wait_until(indexed, timeout=600, interval=0.5, message="the sample was never indexed")
        st = Path(sys.executable).with_name("st")
        cmd = [
            str(st),
            "run",
            f"{srv.base}/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance",
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
        # cwd: schemathesis keeps a crash cache in .schemathesis/ of its working directory.
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
