"""Offline license keys: the vendor CLI, the key format, and redemption (API, CLI, concurrent)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.testclient import TestClient

from appliance.billing import licenses
from appliance.billing.errors import InvalidLicense
from appliance.bootstrap import initialize
from appliance.cli import main
from appliance.db.connection import connect
from appliance.settings import Settings, load_settings
from tests.helpers import auth, make_user

REPO = Path(__file__).resolve().parent.parent
INSTALL = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"  # install ids are UUIDs


@pytest.fixture(scope="module")
def vendor(tmp_path_factory: pytest.TempPathFactory) -> licenses.KeyPairFiles:
    return licenses.keygen(tmp_path_factory.mktemp("vendor"))


@pytest.fixture
def settings(tmp_path: Path, vendor: licenses.KeyPairFiles) -> Settings:
    # No Stripe keys at all: an air-gapped appliance.
    return load_settings(
        data_dir=tmp_path / "data",
        load_models=False,
        access_log=False,
        license_public_keys=[vendor.public_entry],
    )


@pytest.fixture
def install_id(settings: Settings) -> str:
    return initialize(settings).install_id


def issue(vendor: licenses.KeyPairFiles, install_id: str, credits: int = 500, **kw: Any) -> str:
    return licenses.issue(
        licenses.load_private_key(vendor.private_key),
        credits=credits,
        install_id=install_id,
        **kw,
    )


def redeem(client: TestClient, key: str, api_key: str) -> tuple[int, dict[str, Any]]:
    r = client.post("/billing/licenses/redeem", json={"license_key": key}, headers=auth(api_key))
    return r.status_code, r.json()


def error_code(body: dict[str, Any]) -> str:
    code: str = body["error"]["code"]
    return code


# ----- the vendor side -----


def test_keygen_and_issue_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "keys"
    assert main(["license", "keygen", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    private = out / licenses.PRIVATE_KEY_FILE
    assert private.stat().st_mode & 0o777 == 0o600
    entry = (out / licenses.PUBLIC_KEY_FILE).read_text().strip()
    assert entry in printed
    assert main(["license", "keygen", "--out", str(out)]) == 2  # never overwrites
    capsys.readouterr()
    argv = ["license", "issue", "--private-key", str(private), "--credits", "300"]
    argv += ["--install-id", INSTALL, "--expires", "2030-01-31"]
    assert main(argv) == 0
    key = capsys.readouterr().out.strip()
    prefix, body, sig = key.split(".")
    assert prefix == "APL1" and len(base64.urlsafe_b64decode(sig + "==")) == 64
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert set(payload) == {"kid", "lid", "credits", "install", "iat", "exp"}
    assert (payload["credits"], payload["install"], payload["exp"]) == (300, INSTALL, "2030-01-31")
    lic = licenses.verify(key, licenses.parse_public_keys([entry]))
    assert lic.key_id == entry.split(":")[0] == payload["kid"]
    assert lic.credits == 300 and lic.expires == date(2030, 1, 31)
    bad = ["license", "issue", "--private-key", str(private), "--install-id", INSTALL]
    with pytest.raises(SystemExit):
        main([*bad, "--credits", "0"])
    not_a_key = tmp_path / "k.pem"
    not_a_key.write_text("nope")
    assert (
        main(
            [
                "license",
                "issue",
                "--private-key",
                str(not_a_key),
                "--credits",
                "1",
                "--install-id",
                INSTALL,
            ]
        )
        == 2
    )


def test_every_single_character_change_is_rejected(vendor: licenses.KeyPairFiles) -> None:
    key = issue(vendor, "inst-1")
    trusted = licenses.parse_public_keys([vendor.public_entry])
    assert licenses.verify(key, trusted).credits == 500
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    for i, ch in enumerate(key):
        for replacement in {alphabet[(alphabet.index(ch) + 1) % len(alphabet)], "A", "."}:
            if replacement == ch:
                continue
            with pytest.raises(InvalidLicense):
                licenses.verify(key[:i] + replacement + key[i + 1 :], trusted)


def test_a_key_from_an_untrusted_vendor_is_invalid(vendor: licenses.KeyPairFiles) -> None:
    rogue = Ed25519PrivateKey.generate()
    key = licenses.issue(rogue, credits=10**6, install_id="inst-1")
    trusted = licenses.parse_public_keys([vendor.public_entry])
    with pytest.raises(InvalidLicense, match="does not trust"):
        licenses.verify(key, trusted)
    # The rogue key claiming the trusted key id: the signature gives it away.
    body = key.split(".")[1]
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["kid"] = vendor.key_id
    forged_body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    signed = rogue.sign(f"APL1.{forged_body}".encode())
    forged = f"APL1.{forged_body}.{base64.urlsafe_b64encode(signed).rstrip(b'=').decode()}"
    with pytest.raises(InvalidLicense, match="signature"):
        licenses.verify(forged, trusted)


def test_a_deeply_nested_payload_is_malformed_not_a_crash(vendor: licenses.KeyPairFiles) -> None:
    trusted = licenses.parse_public_keys([vendor.public_entry])
    body = base64.urlsafe_b64encode(b"[" * 1500).rstrip(b"=").decode()
    with pytest.raises(InvalidLicense, match="malformed"):
        licenses.verify(f"APL1.{body}.AAAA", trusted)


# ----- redemption through the API -----


def test_redeem_valid_then_replayed(
    client: TestClient,
    admin_key: str,
    vendor: licenses.KeyPairFiles,
    install_id: str,
    settings: Settings,
) -> None:
    user = make_user(client, admin_key, "air@example.com", credits=5)
    assert client.get("/version").json()["install_id"] == install_id
    key = issue(vendor, install_id, 500, expires=date.today() + timedelta(days=30))
    status, body = redeem(client, key, user["api_key"])
    assert status == 200, body
    assert body["credits"] == 500 and body["quota_remaining"] == 505
    me = client.get("/v1/me", headers=auth(user["api_key"])).json()
    assert me["purchased"] == 505
    status, body = redeem(client, key, user["api_key"])
    assert status == 409 and error_code(body) == "license_already_redeemed"
    other = make_user(client, admin_key, "other@example.com")
    status, body = redeem(client, f"  {key}\n", other["api_key"])
    assert status == 409 and error_code(body) == "license_already_redeemed"
    conn = connect(settings.db_path)
    try:
        rows = conn.execute("SELECT license_id, user_id, credits FROM license_redemptions")
        assert [tuple(r) for r in rows] == [(body_id(key), user["id"], 500)]
        ledger = conn.execute(
            "SELECT source, source_ref, delta FROM credit_ledger WHERE source = 'license'"
        ).fetchall()
        assert [tuple(r) for r in ledger] == [("license", body_id(key), 500)]
    finally:
        conn.close()
    metrics = client.get("/metrics").text
    assert 'appliance_license_redemptions_total{result="redeemed"} 1.0' in metrics
    assert 'appliance_license_redemptions_total{result="license_already_redeemed"} 2.0' in metrics


def body_id(key: str) -> str:
    body = key.split(".")[1]
    lid: str = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["lid"]
    return lid


def test_redeem_refusals(
    client: TestClient, admin_key: str, vendor: licenses.KeyPairFiles, install_id: str
) -> None:
    user = make_user(client, admin_key, "u@example.com")
    today = datetime.now(UTC).date()
    cases = [
        ("garbage", "invalid_license"),
        ("APL1.e30.AAAA", "invalid_license"),
        ("APL2" + issue(vendor, install_id)[4:], "invalid_license"),
        (issue(vendor, install_id)[:-3] + "AAA", "invalid_license"),
        (issue(vendor, install_id, expires=today - timedelta(days=1)), "license_expired"),
        (issue(vendor, "another-install"), "license_wrong_install"),
    ]
    for key, code in cases:
        status, body = redeem(client, key, user["api_key"])
        assert (status, error_code(body)) == (400, code), key
    status, body = redeem(client, issue(vendor, install_id, 7, expires=today), user["api_key"])
    assert status == 200  # valid through its last day
    r = client.post("/billing/licenses/redeem", json={"license_key": issue(vendor, install_id)})
    assert r.status_code == 401
    r = client.post(
        "/billing/licenses/redeem", json={"license_key": "x" * 5000}, headers=auth(admin_key)
    )
    assert r.status_code == 400 and error_code(r.json()) == "invalid_payload"
    assert client.get("/v1/me", headers=auth(user["api_key"])).json()["purchased"] == 7


def test_concurrent_double_redemption_credits_once(
    client: TestClient, admin_key: str, vendor: licenses.KeyPairFiles, install_id: str
) -> None:
    users = [make_user(client, admin_key, f"c{i}@example.com") for i in range(4)]
    key = issue(vendor, install_id, 1000)
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(12)

    def attempt(api_key: str) -> None:
        barrier.wait()
        status, _ = redeem(client, key, api_key)
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=attempt, args=(users[i % 4]["api_key"],)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 11
    total = sum(client.get("/v1/me", headers=auth(u["api_key"])).json()["purchased"] for u in users)
    assert total == 1000


def test_redeem_cli_across_two_processes(
    settings: Settings, vendor: licenses.KeyPairFiles, install_id: str, tmp_path: Path
) -> None:
    d = str(settings.data_dir)
    assert main(["users", "create", "cli@example.com", "--data-dir", d]) == 0
    key = issue(vendor, install_id, 250)
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env["APPLIANCE_LICENSE_PUBLIC_KEYS"] = json.dumps([vendor.public_entry])
    env["PYTHONPATH"] = str(REPO)
    cmd = [sys.executable, "-m", "appliance", "license", "redeem", key]
    cmd += ["--email", "cli@example.com", "--data-dir", d, "--json"]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        outputs.append((p.returncode, out, err))
    codes = sorted(code for code, _, _ in outputs)
    assert codes == [0, 2], outputs
    winner = next(out for code, out, _ in outputs if code == 0)
    assert json.loads(winner)["quota_remaining"] == 250
    loser = next(err for code, _, err in outputs if code == 2)
    assert "already been redeemed" in loser
    conn = connect(settings.db_path)
    try:
        row = conn.execute(
            "SELECT quota_remaining FROM users WHERE email = 'cli@example.com'"
        ).fetchone()
        assert row[0] == 250
    finally:
        conn.close()


def test_untrusting_appliance_refuses_every_key(
    tmp_path: Path, vendor: licenses.KeyPairFiles
) -> None:
    from appliance.app import create_app

    settings = load_settings(data_dir=tmp_path / "d", load_models=False, access_log=False)
    result = initialize(settings)
    assert result.admin_api_key
    with TestClient(create_app(settings)) as c:
        status, body = redeem(c, issue(vendor, result.install_id), result.admin_api_key)
        assert status == 400 and error_code(body) == "invalid_license"


def test_malformed_trusted_key_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="license"):
        load_settings(data_dir=tmp_path, license_public_keys=["no-colon-here"])
