"""The real server process over HTTP: a paid checkout via the webhook, and one license key
redeemed at once through the server and by a CLI process on the same data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from appliance.billing import licenses
from tests.support.fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe, serve
from tests.support.live import live_server

REPO = Path(__file__).resolve().parent.parent


def post_raw(url: str, payload: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=payload, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_live_checkout_webhook_and_license_race(tmp_path: Path) -> None:
    vendor = licenses.keygen(tmp_path / "vendor")
    fake = FakeStripe()
    trusted = json.dumps([vendor.public_entry])
    with (
        serve(fake) as stripe_base,
        live_server(
            tmp_path / "d",
            APPLIANCE_LOAD_MODELS="false",
            APPLIANCE_STRIPE_SECRET_KEY=API_KEY,
            APPLIANCE_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            APPLIANCE_STRIPE_API_BASE=stripe_base,
            APPLIANCE_LICENSE_PUBLIC_KEYS=trusted,
        ) as srv,
    ):
        status, user, _ = srv.request(
            "POST", "/v1/users", {"email": "live@example.com"}, key=srv.admin_key
        )
        assert status == 201
        status, body, _ = srv.request(
            "POST", "/billing/checkout/credits", {"pack": "credits_200"}, key=user["api_key"]
        )
        assert status == 200, body
        payload, headers = fake.delivery(fake.complete(body["session_id"]))
        status, result = post_raw(f"{srv.base}/billing/webhook", payload, headers)
        assert status == 200 and result["result"] == "credited"
        status, result = post_raw(f"{srv.base}/billing/webhook", payload, headers)
        assert status == 200 and result["result"] == "duplicate"
        _, me, _ = srv.request("GET", "/v1/me", key=user["api_key"])
        assert me["purchased"] == 200

        _, version, _ = srv.request("GET", "/version")
        key = licenses.issue(
            licenses.load_private_key(vendor.private_key),
            credits=300,
            install_id=version["install_id"],
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
        env.update(APPLIANCE_LICENSE_PUBLIC_KEYS=trusted, PYTHONPATH=str(REPO))
        cli = subprocess.Popen(
            [
                *(sys.executable, "-m", "appliance", "license", "redeem", key),
                *("--email", "live@example.com", "--data-dir", str(srv.data_dir)),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        api_status: list[int] = []

        def via_api() -> None:
            status, _, _ = srv.request(
                "POST", "/billing/licenses/redeem", {"license_key": key}, key=user["api_key"]
            )
            api_status.append(status)

        threads = [threading.Thread(target=via_api) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        _, err = cli.communicate(timeout=120)
        wins = api_status.count(200) + (cli.returncode == 0)
        assert wins == 1, (api_status, cli.returncode, err)
        assert sorted([*api_status, 200 if cli.returncode == 0 else 409]) == [200, 409, 409, 409]
        _, me, _ = srv.request("GET", "/v1/me", key=user["api_key"])
        assert me["purchased"] == 500
