"""The console's sign-in, its cookie and CSRF rules, CORS, and the pages' security headers."""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from appliance.app import create_app
from appliance.paths import web_static_dir
from appliance.settings import Settings, load_settings
from appliance.web.pages import CONTENT_SECURITY_POLICY
from tests.helpers import auth, make_user, wait_until

PASSWORD = "a long enough password"


def sign_in(client: TestClient, **body: str) -> dict[str, object]:
    r = client.post("/auth/session", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def session_cookie(client: TestClient) -> str:
    names = [n for n in client.cookies if n.startswith("appliance_session_")]
    assert len(names) == 1, names
    return names[0]


def test_password_sign_in_sets_a_strict_http_only_cookie(
    client: TestClient, admin_key: str
) -> None:
    make_user(client, admin_key, "web@example.com", password=PASSWORD)
    r = client.post("/auth/session", json={"email": "web@example.com", "password": PASSWORD})
    assert r.status_code == 201
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback; https adds it
    body = r.json()
    assert (
        body["signed_in"]
        and body["via"] == "password"
        and body["user"]["email"] == "web@example.com"
    )
    # The cookie authenticates reads, and the session can be read back (for the CSRF token).
    assert client.get("/v1/me").json()["email"] == "web@example.com"
    again = client.get("/auth/session").json()
    assert again["csrf_token"] == body["csrf_token"]
    # The cookie's value is never what the database holds.
    token = client.cookies[session_cookie(client)]
    assert len(token) >= 40 and hashlib.sha256(token.encode()).hexdigest() != token


def test_wrong_password_and_bad_key_are_401_and_set_no_cookie(
    client: TestClient, admin_key: str
) -> None:
    make_user(client, admin_key, "web@example.com", password=PASSWORD)
    r = client.post("/auth/session", json={"email": "web@example.com", "password": "nope"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    assert "set-cookie" not in r.headers
    r = client.post("/auth/session", json={"api_key": "apk_0000_nope"})
    assert r.status_code == 401 and "set-cookie" not in r.headers
    r = client.post("/auth/session", json={"api_key": "at1.x.y"})  # tokens are not keys
    assert r.status_code == 401
    r = client.post("/auth/session", json={"email": "a@b.c", "api_key": admin_key})
    assert r.status_code == 400


def test_state_changing_requests_need_the_csrf_token(client: TestClient, admin_key: str) -> None:
    session = sign_in(client, api_key=admin_key)
    r = client.post("/v1/keys", json={"name": "x"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = client.post("/v1/keys", json={"name": "x"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    ok = {"X-CSRF-Token": str(session["csrf_token"])}
    assert client.post("/v1/keys", json={"name": "x"}, headers=ok).status_code == 201
    # Another site's page, even with the token, is refused by its Origin.
    evil = {**ok, "Origin": "http://evil.example"}
    assert client.post("/v1/keys", json={"name": "y"}, headers=evil).status_code == 403
    same = {**ok, "Origin": "http://testserver"}
    assert client.post("/v1/keys", json={"name": "z"}, headers=same).status_code == 201
    # A header credential is not sent by a browser on its own: no token needed.
    client.cookies.clear()
    assert client.post("/v1/keys", json={}, headers=auth(admin_key)).status_code == 201


def test_sign_in_accepts_json_only_and_same_origin_only(client: TestClient, admin_key: str) -> None:
    # A cross-site form can post text/plain without a preflight; it must not sign anyone in.
    body = json.dumps({"api_key": admin_key})
    r = client.post("/auth/session", content=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "set-cookie" not in r.headers
    assert r.json()["error"]["code"] == "unsupported_media_type"
    r = client.post(
        "/auth/session",
        content=body,
        headers={"Content-Type": "application/json", "Origin": "http://evil.example"},
    )
    assert r.status_code == 403 and "set-cookie" not in r.headers


def test_sign_out_ends_the_session_for_good(client: TestClient, admin_key: str) -> None:
    session = sign_in(client, api_key=admin_key)
    name = session_cookie(client)
    stolen = client.cookies[name]
    r = client.delete("/auth/session", headers={"X-CSRF-Token": str(session["csrf_token"])})
    assert r.status_code == 200 and r.json() == {"signed_out": True}
    assert "Max-Age=0" in r.headers["set-cookie"]
    client.cookies.clear()
    client.cookies.set(name, stolen)  # replayed after sign-out
    assert client.get("/v1/me").status_code == 401
    # On a public route a dead cookie is simply no session.
    assert client.get("/auth/session").json() == {"signed_in": False}


def test_revoking_the_key_ends_its_sessions(client: TestClient, admin_key: str) -> None:
    user = make_user(client, admin_key, "keyed@example.com")
    sign_in(client, api_key=user["api_key"])
    assert client.get("/v1/me").status_code == 200
    keys = client.get("/v1/keys", headers=auth(user["api_key"])).json()["keys"]
    client.delete(f"/v1/keys/{keys[0]['id']}", headers=auth(admin_key))
    assert client.get("/v1/me").status_code == 401


def test_an_expired_session_is_refused(settings: Settings, admin_key: str) -> None:
    short = settings.model_copy(update={"session_ttl_hours": 1e-6})  # 3.6 ms
    with TestClient(create_app(short)) as c:
        sign_in(c, api_key=admin_key)
        wait_until(lambda: c.get("/v1/me").status_code == 401, timeout=5)


def test_no_cors_by_default(client: TestClient) -> None:
    pre = client.options(
        "/v1/quota",
        headers={"Origin": "http://dash.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in pre.headers
    r = client.get("/healthz", headers={"Origin": "http://dash.example"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_for_the_listed_origins_only(settings: Settings, admin_key: str) -> None:
    key = admin_key
    cors = settings.model_copy(update={"cors_allowed_origins": ["https://dash.example"]})
    with TestClient(create_app(cors)) as c:
        pre = c.options(
            "/v1/quota",
            headers={
                "Origin": "https://dash.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "https://dash.example"
        assert "access-control-allow-credentials" not in pre.headers
        r = c.get("/v1/quota", headers={**auth(key), "Origin": "https://dash.example"})
        assert r.headers["access-control-allow-origin"] == "https://dash.example"
        assert "x-credits-remaining" in r.headers["access-control-expose-headers"].lower()
        other = c.options(
            "/v1/quota",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize("origin", ["*", "dash.example", "https://dash.example/path"])
def test_cors_origins_must_be_exact(tmp_path: Path, origin: str) -> None:
    with pytest.raises(ValueError, match="CORS origin"):
        load_settings(data_dir=tmp_path, cors_allowed_origins=[origin])


@pytest.mark.parametrize("path", ["/", "/docs", "/docs/swagger"])
def test_pages_have_a_strict_content_security_policy(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert r.headers["x-frame-options"] == "DENY"
    # No inline script anywhere in the page: only <script src=...>.
    for tag in r.text.split("<script")[1:]:
        head, _, rest = tag.partition(">")
        assert "src=" in head and rest.startswith("</script>")
    # No inline style either (style-src 'self' would refuse it and log a console error).
    assert "<style" not in r.text and " style=" not in r.text


@pytest.mark.parametrize(
    ("path", "links", "assets"),
    [
        ("/docs", ["/docs/swagger", "/openapi.json"], ["/static/docs.js", "/static/docs.css"]),
        (
            "/docs/swagger",
            ["/docs", "/openapi.json"],
            ["/static/swagger.js", "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js"],
        ),
    ],
)
def test_the_two_docs_pages_link_each_other_and_their_assets_are_served(
    client: TestClient, path: str, links: list[str], assets: list[str]
) -> None:
    page = client.get(path).text
    for link in links:
        assert f'href="{link}"' in page, link
    referenced = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert set(assets) <= set(referenced)
    for asset in referenced:
        r = client.get(asset)
        assert r.status_code == 200, asset
        # A style attribute set from script is refused by the CSP (style-src 'self') and logs
        # an error; CSSOM (.style) is allowed, but the pages keep presentation in their CSS.
        if asset.endswith(".js") and "vendor" not in asset:
            assert ".style" not in r.text and 'setAttribute("style' not in r.text, asset
            for module in re.findall(r'from "(\./[^"]+)"', r.text):
                imported = posixpath.normpath(posixpath.join(posixpath.dirname(asset), module))
                assert client.get(imported).status_code == 200, imported


def test_static_files_are_served_safely(client: TestClient) -> None:
    r = client.get("/static/console/app.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert r.headers["x-content-type-options"] == "nosniff"
    etag = r.headers["etag"]
    assert client.get("/static/console/app.js", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/static/../settings.py").status_code == 404
    assert client.get("/static/%2e%2e/settings.py").status_code == 404
    assert client.get("/static/index.html").status_code == 404  # pages only with their CSP
    assert client.get("/static/nope.js").json()["error"]["code"] == "not_found"


def test_the_console_can_be_turned_off(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path / "data", load_models=False, access_log=False, console_enabled=False
    )
    with TestClient(create_app(settings)) as c:
        assert c.get("/").status_code == 404
        assert c.get("/docs").status_code == 200
        assert c.get("/docs/swagger").status_code == 200


def test_vendored_assets_match_their_manifest() -> None:
    vendor = web_static_dir() / "vendor"
    manifest = json.loads((vendor / "VENDORED.json").read_text())
    total = 0
    for package in manifest:
        assert package["registry"] == "npm" and package["license"] and package["version"]
        for name, meta in package["files"].items():
            data = (vendor / package["name"] / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == meta["sha256"], name
            assert len(data) == meta["bytes"]
            total += len(data)
        assert any(n.startswith("LICENSE") for n in package["files"])
    assert total < 3_000_000  # the README states the figure; keep it small


def test_keys_are_never_logged(
    tmp_path: Path, admin_key: str, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    logged = settings.model_copy(update={"access_log": True})
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(logged)) as c:
        created = c.post("/v1/keys", json={"name": "k"}, headers=auth(admin_key)).json()
        user = make_user(c, admin_key, "u@example.com", password=PASSWORD)
        c.post("/auth/session", json={"api_key": user["api_key"]})
        c.post("/auth/session", json={"email": "u@example.com", "password": PASSWORD})
    text = caplog.text
    assert "POST /auth/session 201" in text  # the access log did run (issue 15's format)
    for secret in (created["api_key"], user["api_key"], admin_key, PASSWORD):
        assert secret not in text


def test_a_password_change_or_disabling_ends_the_console_sessions(
    client: TestClient, settings: Settings, admin_key: str
) -> None:
    """Like access tokens (issue 15): a new password ends the sessions signed in with the old
    one (a session made from an API key lasts as long as the key), and disabling the user
    ends all of theirs."""
    from appliance.cli.common import write
    from appliance.db.queries import users as q

    user = make_user(client, admin_key, "moved@example.com", password=PASSWORD)
    sign_in(client, email="moved@example.com", password=PASSWORD)
    assert client.get("/v1/me").status_code == 200
    write(settings, q.set_password, user["id"], None)
    assert client.get("/v1/me").status_code == 401
    client.cookies.clear()
    sign_in(client, api_key=user["api_key"])
    write(settings, q.set_password, user["id"], None)
    assert client.get("/v1/me").status_code == 200
    assert write(settings, q.set_disabled, user["id"], True)
    assert client.get("/v1/me").status_code == 401
