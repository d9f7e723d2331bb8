"""Hostile hosts and guessing: the Host rule (DNS rebinding), JSON-only logins, login
throttling across restarts, the API-key cap, and revocations that would lock people out."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from appliance.app import create_app
from appliance.bootstrap import initialize
from appliance.cli import main
from appliance.hosts import HostRule, host_name
from appliance.settings import Settings, load_settings
from tests.helpers import auth, make_user


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return load_settings(data_dir=tmp_path / "d", load_models=False, access_log=False, **extra)


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]:8000", "::1"),
        ("LocalHost", "localhost"),
        ("example.com.", "example.com"),
        ("::1", "::1"),
    ],
)
def test_host_names(header: str, name: str) -> None:
    assert host_name(header) == name


def test_host_rule() -> None:
    rule = HostRule([], "127.0.0.1")
    for ok in (
        "127.0.0.1:8000",
        "localhost:8000",
        "[::1]:8000",
        "127.0.0.2",
        "app.localhost",
        None,
    ):
        assert rule.allows(ok), ok
    for bad in ("evil.example:8000", "192.168.1.5", "127.0.0.1.evil.example", "", "localhost.evil"):
        assert not rule.allows(bad), bad
    proxied = HostRule(["appliance.example.com"], "0.0.0.0")
    assert proxied.allows("Appliance.Example.com:443") and not proxied.allows("0.0.0.0")
    assert HostRule([], "192.168.1.5").allows("192.168.1.5:8000")
    assert HostRule(["*"], "127.0.0.1").allows("anything")


def test_a_rebinding_host_is_refused_before_anything_else(tmp_path: Path) -> None:
    settings = _settings(tmp_path, allowed_hosts=[])
    admin = initialize(settings).admin_api_key
    assert admin
    with TestClient(create_app(settings), base_url="http://evil.example:8000") as c:
        for method, path in (("GET", "/v1/me"), ("GET", "/healthz"), ("POST", "/auth/token")):
            r = c.request(method, path, headers=auth(admin))
            assert r.status_code == 421, (path, r.text)
            error = r.json()["error"]
            assert error["code"] == "host_not_allowed" and error["request_id"]
        ok = c.get("/v1/me", headers={**auth(admin), "Host": "127.0.0.1:8000"})
        assert ok.status_code == 200
    allowed = _settings(tmp_path, allowed_hosts=["evil.example"])
    with TestClient(create_app(allowed), base_url="http://evil.example:8000") as c:
        assert c.get("/v1/me", headers=auth(admin)).status_code == 200


def _password_user(client: TestClient, admin_key: str, email: str) -> dict[str, object]:
    return make_user(client, admin_key, email, password="correct horse")


def _login(client: TestClient, email: str, password: str, **kw: object) -> object:
    return client.post("/auth/token", json={"email": email, "password": password}, **kw)


def test_auth_token_takes_json_only(client: TestClient, admin_key: str) -> None:
    _password_user(client, admin_key, "j@example.com")
    body = '{"email": "j@example.com", "password": "correct horse"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        r = client.post("/auth/token", content=body, headers=headers)
        assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
    r = client.post(
        "/auth/token", content=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert r.status_code == 200


def test_failed_logins_lock_the_account_across_restarts_until_an_admin_lifts_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path, login_max_failures=3, login_lockout_seconds=600)
    admin = initialize(settings).admin_api_key
    assert admin
    with TestClient(create_app(settings)) as c:
        _password_user(c, admin, "v@example.com")
        for _ in range(3):
            assert _login(c, "v@example.com", "wrong").status_code == 401
        locked = _login(c, "V@example.com", "correct horse")  # the right one, too late
        assert locked.status_code == 429
        assert locked.json()["error"]["code"] == "login_throttled"
        assert 590 <= int(locked.headers["Retry-After"]) <= 600
        # Another account from the same address is not locked (its limit is higher).
        _password_user(c, admin, "w@example.com")
        assert _login(c, "w@example.com", "correct horse").status_code == 200
    with TestClient(create_app(settings)) as c:  # a restart forgets nothing
        assert _login(c, "v@example.com", "correct horse").status_code == 429
    assert main(["users", "unlock", "v@example.com", "--data-dir", str(settings.data_dir)]) == 0
    assert "failed logins cleared" in capsys.readouterr().out
    with TestClient(create_app(settings)) as c:
        assert _login(c, "v@example.com", "correct horse").status_code == 200


def test_failed_logins_lock_the_client_address(tmp_path: Path) -> None:
    settings = _settings(tmp_path, login_max_failures=100, login_max_failures_per_address=4)
    admin = initialize(settings).admin_api_key
    assert admin
    with TestClient(create_app(settings)) as c:
        _password_user(c, admin, "x@example.com")
        for i in range(4):  # guessing across many accounts
            assert _login(c, f"guess{i}@example.com", "pw").status_code == 401
        assert _login(c, "x@example.com", "correct horse").status_code == 429
    with TestClient(create_app(settings), client=("10.0.0.9", 5000)) as c:
        assert _login(c, "x@example.com", "correct horse").status_code == 200
    # A success clears the account's count, never the address's.
    with TestClient(create_app(settings)) as c:
        assert _login(c, "x@example.com", "correct horse").status_code == 429


def test_api_keys_per_user_are_capped(tmp_path: Path) -> None:
    settings = _settings(tmp_path, max_api_keys_per_user=3)
    admin = initialize(settings).admin_api_key
    assert admin
    with TestClient(create_app(settings)) as c:
        user = make_user(c, admin, "k@example.com")
        key = user["api_key"]
        made = [c.post("/v1/keys", json={}, headers=auth(key)) for _ in range(3)]
        assert [r.status_code for r in made] == [201, 201, 409]
        assert made[2].json()["error"]["code"] == "too_many_keys"
        gone = made[0].json()["id"]
        assert c.delete(f"/v1/keys/{gone}", headers=auth(key)).status_code == 200
        assert c.post("/v1/keys", json={}, headers=auth(key)).status_code == 201


def test_revocations_that_would_lock_people_out_are_refused(
    client: TestClient, admin_key: str, capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    user = make_user(client, admin_key, "only@example.com")
    key = user["api_key"]
    own = client.get("/v1/keys", headers=auth(key)).json()["keys"][0]["id"]
    r = client.delete(f"/v1/keys/{own}", headers=auth(key))
    assert r.status_code == 409 and r.json()["error"]["code"] == "last_credential"
    assert client.get("/v1/me", headers=auth(key)).status_code == 200
    # With a second key it may go.
    second = client.post("/v1/keys", json={}, headers=auth(key)).json()
    assert client.delete(f"/v1/keys/{own}", headers=auth(key)).status_code == 200
    assert client.get("/v1/me", headers=auth(key)).status_code == 401
    # An admin may revoke a user's last key (deliberately locking them out).
    assert client.delete(f"/v1/keys/{second['id']}", headers=auth(admin_key)).status_code == 200
    # The last admin credential cannot be revoked, by the API or the CLI.
    admin_keys = client.get("/v1/keys", headers=auth(admin_key)).json()["keys"]
    (admin_key_id,) = [k["id"] for k in admin_keys]
    r = client.delete(f"/v1/keys/{admin_key_id}", headers=auth(admin_key))
    assert r.status_code == 409 and r.json()["error"]["code"] == "last_credential"
    data_dir = str(settings.data_dir)
    assert main(["keys", "revoke", str(admin_key_id), "--data-dir", data_dir]) == 2
    assert "last administrator" in capsys.readouterr().err
    # A second admin makes the first one's key revocable.
    make_user(client, admin_key, "admin2@example.com", is_admin=True)
    assert main(["keys", "revoke", str(admin_key_id), "--data-dir", data_dir]) == 0
