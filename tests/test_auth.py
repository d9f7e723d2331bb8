"""Authentication and authorisation through the real app."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from appliance.app import create_app
from appliance.auth import issue_token, verify_token
from appliance.billing.ledger import add_credits
from appliance.bootstrap import initialize
from appliance.db.connection import connect
from appliance.settings import load_settings
from tests.helpers import auth, make_user


def test_api_key_and_x_api_key_header(client: TestClient, admin_key: str) -> None:
    user = make_user(client, admin_key, "u1@example.com", credits=3)
    r = client.get("/v1/me", headers=auth(user["api_key"]))
    assert r.status_code == 200
    assert r.json()["email"] == "u1@example.com"
    assert r.json()["purchased"] == 3
    r = client.get("/v1/me", headers={"X-API-Key": user["api_key"]})
    assert r.json()["id"] == user["id"]
    assert client.get("/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_key_lifecycle_and_revocation(client: TestClient, admin_key: str) -> None:
    user = make_user(client, admin_key, "u2@example.com")
    r = client.post("/v1/keys", json={"name": "laptop"}, headers=auth(user["api_key"]))
    assert r.status_code == 201
    new = r.json()
    assert new["api_key"].startswith("apk_") and new["name"] == "laptop"
    keys = client.get("/v1/keys", headers=auth(new["api_key"])).json()["keys"]
    assert [k["name"] for k in keys] == ["default", "laptop"]
    assert all("api_key" not in k for k in keys)  # plaintext is never shown again
    # Another user cannot revoke it.
    other = make_user(client, admin_key, "u3@example.com")
    assert client.delete(f"/v1/keys/{new['id']}", headers=auth(other["api_key"])).status_code == 404
    r = client.delete(f"/v1/keys/{new['id']}", headers=auth(user["api_key"]))
    assert r.status_code == 200 and r.json()["revoked"] is True
    r = client.get("/v1/me", headers=auth(new["api_key"]))
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert client.get("/v1/me", headers=auth(user["api_key"])).status_code == 200


def test_password_token_flow(client: TestClient, admin_key: str) -> None:
    make_user(client, admin_key, "pw@example.com", password="correct horse")
    r = client.post("/auth/token", json={"email": "pw@example.com", "password": "wrong pass"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    r = client.post("/auth/token", json={"email": "PW@example.com", "password": "correct horse"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert client.get("/v1/me", headers=auth(body["access_token"])).json()["email"] == (
        "pw@example.com"
    )


def test_expired_and_forged_tokens(client: TestClient, admin_key: str) -> None:
    user = make_user(client, admin_key, "t@example.com")
    secret = client.app.state.ctx.auth.token_secret  # type: ignore[attr-defined]
    expired = issue_token(secret, user["id"], 60, now=time.time() - 3600)
    r = client.get("/v1/me", headers=auth(expired))
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    forged = issue_token(b"not the secret", user["id"], 600)
    assert client.get("/v1/me", headers=auth(forged)).status_code == 401
    good = issue_token(secret, user["id"], 600)
    # Tampering with the payload (another user id) breaks the signature.
    parts = good.split(".")
    other = issue_token(secret, 1, 600).split(".")
    assert (
        client.get("/v1/me", headers=auth(f"{parts[0]}.{other[1]}.{parts[2]}")).status_code == 401
    )
    assert verify_token(secret, good) == user["id"]


def test_admin_only_endpoints(client: TestClient, admin_key: str) -> None:
    user = make_user(client, admin_key, "nonadmin@example.com")
    r = client.post("/v1/users", json={"email": "x@example.com"}, headers=auth(user["api_key"]))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    listed = client.get("/v1/users", headers=auth(admin_key)).json()["users"]
    assert {u["email"] for u in listed} == {"admin@localhost", "nonadmin@example.com"}


def test_key_cache_never_serves_balances_and_expires(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path / "c", load_models=False, access_log=False, auth_cache_seconds=0.5
    )
    admin = initialize(settings).admin_api_key
    assert admin
    with TestClient(create_app(settings)) as client:
        user = make_user(client, admin, "cache@example.com", credits=3)
        key = user["api_key"]
        assert client.get("/v1/me", headers=auth(key)).json()["purchased"] == 3
        db = client.app.state.ctx.db  # type: ignore[attr-defined]
        db.write_sync(add_credits, user["id"], 4, "admin", "cache-test")
        # The key is cached, the balance is not.
        assert client.get("/v1/me", headers=auth(key)).json()["purchased"] == 7
        # A revocation from another process (the CLI) applies once the entry expires.
        conn = connect(settings.db_path)
        conn.execute("UPDATE api_keys SET revoked_at = 'now' WHERE user_id = ?", (user["id"],))
        conn.close()
        assert client.get("/v1/me", headers=auth(key)).status_code == 200
        time.sleep(0.6)
        assert client.get("/v1/me", headers=auth(key)).status_code == 401


def test_last_used_bookkeeping_is_bounded_and_still_written(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d", load_models=False, access_log=False)
    admin = initialize(settings).admin_api_key
    assert admin
    app = create_app(settings)
    with TestClient(app) as client:
        ctx = app.state.ctx
        ctx.auth.touched_max = 4
        keys = [make_user(client, admin, f"t{i}@example.com")["api_key"] for i in range(10)]
        for key in keys:
            assert client.get("/v1/me", headers=auth(key)).status_code == 200
            assert len(ctx.auth._touched) <= 4
        ctx.db.write_sync(lambda conn: None)  # writes apply in order: the touches are in
    conn = connect(settings.db_path)
    try:
        unused = conn.execute(
            "SELECT count(*) FROM api_keys k JOIN users u ON u.id = k.user_id "
            "WHERE u.email LIKE 't%@example.com' AND k.last_used_at IS NULL"
        ).fetchone()[0]
    finally:
        conn.close()
    assert unused == 0


def test_password_checks_run_a_bounded_number_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import appliance.auth

    settings = load_settings(data_dir=tmp_path / "d", load_models=False, access_log=False)
    initialize(settings)
    real = appliance.auth.verify_password
    lock = threading.Lock()
    running = [0, 0]  # now, most at once

    def counted(password: str, stored: str | None) -> bool:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        try:
            time.sleep(0.05)
            return real(password, stored)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(appliance.auth, "verify_password", counted)
    # Wherever the handler takes it from (before this bound it imported it by name).
    monkeypatch.setattr("appliance.api.accounts.verify_password", counted, raising=False)

    async def scenario() -> list[int]:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                body = {"email": "nobody@example.com", "password": "pw"}
                answers = await asyncio.gather(
                    *(c.post("/auth/token", json=body) for _ in range(8))
                )
        return [r.status_code for r in answers]

    assert asyncio.run(scenario()) == [401] * 8
    assert 1 <= running[1] <= appliance.auth.PASSWORD_CHECKS_AT_ONCE
