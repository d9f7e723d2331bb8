"""Every error class renders the one JSON shape."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.testclient import TestClient

from appliance.app import create_app
from appliance.settings import Settings
from tests.helpers import auth, make_user


def assert_error(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert {"code", "message", "request_id"} <= set(err)
    assert err["code"] == code
    assert err["message"]
    assert err["request_id"] == response.headers["x-request-id"]
    return err


def test_error_shape_for_every_class(client: TestClient, admin_key: str) -> None:
    user = make_user(client, admin_key, "plain@example.com")
    assert_error(client.get("/v1/me"), 401, "unauthorized")
    assert_error(client.get("/v1/me", headers=auth("apk_nope_nope")), 401, "unauthorized")
    assert_error(client.get("/v1/users", headers=auth(user["api_key"])), 403, "forbidden")
    assert_error(client.get("/no/such/route"), 404, "not_found")
    assert_error(client.delete("/v1/keys/99999", headers=auth(admin_key)), 404, "not_found")
    r = client.post("/v1/users", json={"email": "plain@example.com"}, headers=auth(admin_key))
    assert_error(r, 409, "user_exists")
    r = client.post(
        "/auth/token", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_error(r, 400, "invalid_payload")
    r = client.post("/auth/token", json={"email": "x@y.z", "password": "pw"})
    assert_error(r, 401, "invalid_credentials")


def test_validation_errors_name_the_fields(client: TestClient, admin_key: str) -> None:
    r = client.post("/v1/users", json={"email": "a@b.c", "credits": -5}, headers=auth(admin_key))
    err = assert_error(r, 400, "invalid_payload")
    assert [d["field"] for d in err["details"]] == ["credits"]
    r = client.post("/v1/users", json=["not", "an", "object"], headers=auth(admin_key))
    assert_error(r, 400, "invalid_payload")
    r = client.get("/v1/users?limit=0", headers=auth(admin_key))
    assert assert_error(r, 400, "invalid_payload")["details"][0]["field"] == "limit"


def test_deeply_nested_json_is_400_not_500(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    for body in (b"[" * 100_000, b'{"a":' * 50_000):
        r = client.post("/auth/token", content=body, headers=headers)
        assert_error(r, 400, "invalid_payload")


def test_body_over_max_body_bytes_is_413(settings: Settings, admin_key: str) -> None:
    settings.max_body_bytes = 4096
    big = b'{"email": "' + b"x" * 5000 + b'", "password": "pw"}'
    json_body = {"Content-Type": "application/json"}
    with TestClient(create_app(settings)) as c:
        # Declared length over the cap: refused before the body is read.
        assert_error(c.post("/auth/token", content=big), 413, "payload_too_large")
        # Chunked (no Content-Length): stopped as the chunks arrive, on any route.
        chunks = [big[i : i + 1000] for i in range(0, len(big), 1000)]
        r = c.post("/auth/token", content=iter(chunks), headers=json_body)
        assert "content-length" not in r.request.headers
        assert_error(r, 413, "payload_too_large")
        r = c.post("/billing/webhook", content=iter(chunks))
        assert_error(r, 413, "payload_too_large")
        # Under the cap nothing changes.
        r = c.post("/auth/token", json={"email": "x@y.z", "password": "pw"})
        assert_error(r, 401, "invalid_credentials")
        # A non-ASCII "digit" Content-Length is not a crash.
        r = c.post(
            "/auth/token", content=b"{}", headers={"content-length": "\u00b2".encode("latin-1")}
        )
        assert r.status_code < 500


def test_unexpected_exception_is_500_without_traceback(settings: Settings, admin_key: str) -> None:
    app = create_app(settings)

    async def boom(request: Request) -> None:
        raise RuntimeError("secret internals /etc/passwd")

    app.router.add_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom", headers={"X-Request-ID": "req-123"})
    assert r.status_code == 500
    assert r.json() == {
        "error": {
            "code": "internal_error",
            "message": "internal error; see the server log",
            "request_id": "req-123",
        }
    }
    assert "passwd" not in r.text


@pytest.mark.parametrize("given", ["abc-123", "x" * 200, "bad id with spaces"])
def test_request_id_is_echoed_or_replaced(client: TestClient, given: str) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": given})
    echoed = r.headers["x-request-id"]
    if given == "abc-123":
        assert echoed == given
    else:
        assert echoed != given and len(echoed) == 32


def test_bad_credentials_fail_protected_routes_only(client: TestClient, admin_key: str) -> None:
    for header in ("Basic dXNlcjpwdw==", "Bearer apk_nope_nope", "Bearer"):
        bad = {"Authorization": header}
        assert client.get("/healthz", headers=bad).status_code == 200, header
        assert client.get("/version", headers=bad).status_code == 200, header
        r = client.post("/auth/token", json={"email": "x@y.z", "password": "pw"}, headers=bad)
        assert_error(r, 401, "invalid_credentials")  # the password check, not the header
        assert_error(client.get("/v1/me", headers=bad), 401, "unauthorized")
    # A good credential on a public route is still fine.
    assert client.get("/healthz", headers=auth(admin_key)).status_code == 200


def test_unexpected_failure_while_authenticating_is_a_json_500(
    settings: Settings, admin_key: str
) -> None:
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as c:

        async def broken(credential: str) -> None:
            raise RuntimeError("database on fire")

        app.state.ctx.auth.resolve_credential = broken
        r = c.get("/v1/me", headers=auth(admin_key))
        err = assert_error(r, 500, "internal_error")
        assert "fire" not in err["message"]
