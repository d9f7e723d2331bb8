"""The billing seam through the real app: spends, refunds, 402, 429, Idempotency-Key,
/v1/quota, /v1/usage, metrics. Test-only billable routes exercise the failure paths."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from appliance.api.billable import Call, billable
from appliance.api.responses import JSON
from appliance.app import create_app
from appliance.billing import idempotency, quota
from appliance.billing.ledger import add_credits
from appliance.bootstrap import initialize
from appliance.db.connection import Connection
from appliance.db.database import open_session
from appliance.db.queries import billing as bq
from appliance.db.queries.billing import Charge
from appliance.errors import ApplianceError
from appliance.settings import Settings, load_settings
from tests.helpers import auth, make_user


class EchoedOut(BaseModel):
    echo: str
    n: bool


class ModelFailed(ApplianceError):
    status = 503
    code = "model_unavailable"


class ModeBody(BaseModel):
    mode: str
    text: str = ""
    cost: int = 1
    seconds: float = 0.3


@billable(
    "test",
    "A billable endpoint whose work does what the body says",
    body=ModeBody,
    response=EchoedOut,
    cost=lambda _settings, body: body.cost,
    cost_doc="cost credits",
)
async def billable_test(call: Call[ModeBody]) -> dict[str, Any] | Response:
    mode = call.input.mode
    if mode == "slow":
        await asyncio.sleep(call.input.seconds)
    if mode == "crash":
        raise RuntimeError("the model blew up")
    if mode == "model_error":
        raise ModelFailed("sentiment model is not loaded")
    if mode == "error_response":
        return JSON({"error": "upstream"}, status_code=502)
    return {"echo": call.input.text, "n": call.ctx.metrics is not None}


class Lookup(BaseModel):
    q: str


@billable(
    "lookup",
    "A billable GET: its input is the query string",
    query=Lookup,
    response=EchoedOut,
    cost=lambda _settings, _query: 1,
    cost_doc="1 credit",
)
async def billable_lookup(call: Call[Lookup]) -> dict[str, Any]:
    return {"echo": call.input.q, "n": True}


def build(settings: Settings) -> Starlette:
    app = create_app(settings)
    app.router.routes.append(Route("/test/billable", billable_test, methods=["POST"]))
    app.router.routes.append(Route("/test/lookup", billable_lookup, methods=["GET"]))
    return app


@pytest.fixture
def settings(engine_settings: Settings) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL (a fresh database each)."""
    return engine_settings.model_copy(
        update={"echo_endpoint": True, "rate_limit_per_second": 0, "free_monthly_credits": 2}
    )


@pytest.fixture
def client(settings: Settings, admin_key: str) -> Iterator[TestClient]:
    with TestClient(build(settings), raise_server_exceptions=False) as c:
        yield c


def get_quota(client: TestClient, key: str) -> dict[str, Any]:
    r = client.get("/v1/quota", headers=auth(key))
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def events(client: TestClient, key: str, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/v1/usage", params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["events"]
    return found


def metric(client: TestClient, name: str, endpoint: str = "test") -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'{name}{{endpoint="{endpoint}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_spend_headers_and_usage_event(client: TestClient, admin_key: str) -> None:
    user = make_user(client, admin_key, "a@x.io", credits=3)
    key = user["api_key"]
    assert get_quota(client, key) == {
        "remaining": 5,
        "allowance_remaining": 2,
        "monthly_allowance": 2,
        "purchased": 3,
        "plan": "free",
        "resets_at": get_quota(client, key)["resets_at"],
    }
    r = client.post(
        "/test/billable", json={"mode": "ok", "text": "hi", "cost": 2}, headers=auth(key)
    )
    assert r.status_code == 200 and r.json()["echo"] == "hi"
    assert r.headers["X-Credits-Remaining"] == "3"
    after = get_quota(client, key)
    assert (after["remaining"], after["allowance_remaining"], after["purchased"]) == (3, 0, 3)
    (event,) = events(client, key)
    assert event["endpoint"] == "test" and event["status"] == "charged"
    assert (event["cost"], event["quota_before"], event["quota_after"]) == (2, 5, 3)
    assert event["status_code"] == 200 and event["duration_ms"] > 0
    assert event["request_id"] == r.headers["x-request-id"]
    assert metric(client, "appliance_credits_spent_total") == 2


def test_rejected_before_spending_costs_nothing(client: TestClient, admin_key: str) -> None:
    user = make_user(client, admin_key, "b@x.io", credits=1)
    key = user["api_key"]
    assert client.post("/test/billable", json={"mode": "ok"}).status_code == 401
    assert client.post("/test/billable", json={"nomode": 1}, headers=auth(key)).status_code == 400
    r = client.post("/v1/echo", json={"text": ""}, headers=auth(key))
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_payload"
    r = client.post(
        "/v1/echo", json={"text": "x"}, headers={**auth(key), "Idempotency-Key": "bad key"}
    )
    assert r.status_code == 400
    assert get_quota(client, key)["remaining"] == 3 and events(client, key) == []


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("crash", 500, "internal_error"),
        ("model_error", 503, "model_unavailable"),
        ("error_response", 502, None),
    ],
)
def test_failure_after_spending_is_refunded(
    client: TestClient, admin_key: str, mode: str, status: int, code: str | None
) -> None:
    user = make_user(client, admin_key, "c@x.io", credits=4)
    key = user["api_key"]
    r = client.post("/test/billable", json={"mode": mode, "cost": 3}, headers=auth(key))
    assert r.status_code == status
    if code:
        assert r.json()["error"]["code"] == code
    if mode != "crash":  # the 500 handler renders a fresh response
        assert r.headers["X-Credits-Remaining"] == "6"
    assert get_quota(client, key)["remaining"] == 6
    (event,) = events(client, key)
    assert (event["status"], event["status_code"], event["cost"]) == ("refunded", status, 3)
    assert metric(client, "appliance_credits_refunded_total") == 3
    assert metric(client, "appliance_credits_spent_total") == 3


def test_quota_exhausted_says_how_to_top_up(
    client: TestClient, admin_key: str, settings: Settings
) -> None:
    user = make_user(client, admin_key, "d@x.io")
    key = user["api_key"]
    for _ in range(2):
        assert client.post("/v1/echo", json={"text": "x"}, headers=auth(key)).status_code == 200
    r = client.post("/v1/echo", json={"text": "x"}, headers=auth(key))
    assert r.status_code == 402 and r.headers["X-Credits-Remaining"] == "0"
    err = r.json()["error"]
    assert err["code"] == "quota_exhausted"
    # This install has neither payments nor a trusted license key: only the operator can help
    # (tests/test_operator_cli.py has the installs that offer Checkout and license keys).
    assert "/billing/checkout/credits" not in err["message"]
    assert "/billing/licenses/redeem" not in err["message"]
    assert "operator" in err["message"] and set(err["details"]["top_up"]) == {"operator"}
    assert [e["status"] for e in events(client, key)] == ["rejected", "charged", "charged"]
    assert metric(client, "appliance_quota_exhausted_total", "echo") == 1
    # An admin grant (the CLI's write function) makes it spendable again.
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    ctx.db.sync.write(add_credits, user["id"], 5, "admin", "grant-1")
    r = client.post("/v1/echo", json={"text": "x"}, headers=auth(key))
    assert r.status_code == 200 and r.headers["X-Credits-Remaining"] == "4"


def test_idempotent_retries_are_charged_once(client: TestClient, admin_key: str) -> None:
    user = make_user(client, admin_key, "e@x.io", credits=10)
    key = user["api_key"]
    h = {**auth(key), "Idempotency-Key": "order-42"}
    first = client.post("/test/billable", json={"mode": "ok", "text": "one"}, headers=h)
    again = client.post("/test/billable", json={"mode": "ok", "text": "one"}, headers=h)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["X-Credits-Remaining"] == first.headers["X-Credits-Remaining"] == "11"
    assert get_quota(client, key)["remaining"] == 11
    r = client.post("/test/billable", json={"mode": "ok", "text": "two"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"
    # Keys are per user: another user's identical key is a new request.
    other = make_user(client, admin_key, "f@x.io")
    r = client.post(
        "/test/billable",
        json={"mode": "ok", "text": "one"},
        headers={**auth(other["api_key"]), "Idempotency-Key": "order-42"},
    )
    assert r.status_code == 200 and "Idempotent-Replayed" not in r.headers
    charged = [e for e in events(client, key) if e["status"] == "charged"]
    assert len(charged) == 1 and charged[0]["idempotency_key"] == "order-42"
    assert metric(client, "appliance_idempotent_replays_total") == 1


def test_a_failed_or_refused_keyed_request_can_be_retried(
    client: TestClient, admin_key: str
) -> None:
    user = make_user(client, admin_key, "g@x.io", credits=1)
    key = user["api_key"]
    h = {**auth(key), "Idempotency-Key": "k1"}
    r = client.post("/test/billable", json={"mode": "model_error", "cost": 3}, headers=h)
    assert r.status_code == 503 and get_quota(client, key)["remaining"] == 3
    # The failed attempt was refunded and released the key: the retry runs (and is charged).
    r = client.post("/test/billable", json={"mode": "model_error", "cost": 3}, headers=h)
    assert r.status_code == 503
    h2 = {**auth(key), "Idempotency-Key": "k2"}
    r = client.post("/test/billable", json={"mode": "ok", "cost": 4}, headers=h2)
    assert r.status_code == 402
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    ctx.db.sync.write(add_credits, user["id"], 1, "admin", "topup")
    r = client.post("/test/billable", json={"mode": "ok", "cost": 4}, headers=h2)
    assert r.status_code == 200 and r.headers["X-Credits-Remaining"] == "0"
    statuses = [(e["idempotency_key"], e["status"]) for e in reversed(events(client, key))]
    assert statuses == [
        ("k1", "refunded"),
        ("k1", "refunded"),
        ("k2", "rejected"),
        ("k2", "charged"),
    ]


def test_rate_limit_answers_429_before_spending(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path / "rl",
        load_models=False,
        access_log=False,
        echo_endpoint=True,
        rate_limit_per_second=0.01,
        rate_limit_burst=2,
    )
    admin = initialize(settings).admin_api_key
    assert admin
    with TestClient(build(settings)) as client:
        user = make_user(client, admin, "h@x.io", credits=10)
        key = user["api_key"]
        codes = [client.post("/v1/echo", json={"text": "x"}, headers=auth(key)) for _ in range(3)]
        assert [r.status_code for r in codes] == [200, 200, 429]
        ok, limited = codes[1], codes[2]
        assert ok.headers["RateLimit-Limit"] == "2" and ok.headers["RateLimit-Remaining"] == "0"
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 99  # 1 token at 0.01/s
        assert limited.headers["RateLimit-Remaining"] == "0"
        assert int(limited.headers["RateLimit-Reset"]) >= int(limited.headers["Retry-After"])
        assert get_quota(client, key)["remaining"] == 18  # 2 spent from 10 + 10
        assert len(events(client, key)) == 2
        assert metric(client, "appliance_rate_limited_total", "echo") == 1
        # The bucket is per API key: the user's second key has its own.
        r = client.post("/v1/keys", json={"name": "second"}, headers=auth(key))
        second = r.json()["api_key"]
        assert client.post("/v1/echo", json={"text": "x"}, headers=auth(second)).status_code == 200
        # Non-billable endpoints are not limited.
        assert client.get("/v1/quota", headers=auth(key)).status_code == 200


def test_billing_off_serves_free(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path / "off",
        load_models=False,
        access_log=False,
        echo_endpoint=True,
        billing_enabled=False,
    )
    admin = initialize(settings).admin_api_key
    assert admin
    with TestClient(build(settings)) as client:
        user = make_user(client, admin, "i@x.io")
        for _ in range(5):
            r = client.post("/v1/echo", json={"text": "x"}, headers=auth(user["api_key"]))
            assert r.status_code == 200 and "X-Credits-Remaining" not in r.headers
        assert get_quota(client, user["api_key"])["remaining"] == 10
        assert events(client, user["api_key"]) == []
        assert client.post("/v1/echo", json={"text": "x"}).status_code == 401


def test_echo_is_off_by_default(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "e", load_models=False, access_log=False)
    admin = initialize(settings).admin_api_key
    assert admin
    with TestClient(create_app(settings)) as client:
        r = client.post("/v1/echo", json={"text": "x"}, headers=auth(admin))
        assert r.status_code == 404


def test_usage_pagination_and_date_filters(client: TestClient, admin_key: str) -> None:
    user = make_user(client, admin_key, "j@x.io", credits=10)
    key = user["api_key"]
    for i in range(5):
        client.post("/v1/echo", json={"text": str(i)}, headers=auth(key))
    r = client.get("/v1/usage", params={"limit": 2}, headers=auth(key))
    page1 = r.json()
    assert len(page1["events"]) == 2 and page1["next_cursor"] == page1["events"][-1]["id"]
    seen = [e["id"] for e in page1["events"]]
    cursor = page1["next_cursor"]
    while cursor:
        page = client.get("/v1/usage", params={"limit": 2, "cursor": cursor}, headers=auth(key))
        seen += [e["id"] for e in page.json()["events"]]
        cursor = page.json()["next_cursor"]
    assert seen == sorted(seen, reverse=True) and len(seen) == 5
    created = sorted(e["created_at"] for e in events(client, key))
    assert len(events(client, key, since=created[2])) == 3
    assert len(events(client, key, until=created[2])) == 2
    assert events(client, key, since="2999-01-01") == []
    assert len(events(client, key, since="2000-01-01", until="2999-01-01T00:00:00+02:00")) == 5
    # Own events only.
    assert events(client, admin_key) == []
    r = client.get("/v1/usage", params={"since": "yesterday"}, headers=auth(key))
    assert r.status_code == 400 and r.json()["error"]["details"][0]["field"] == "since"


@pytest.mark.parametrize(
    ("field", "moment"),
    [("since", "0001-01-01T00:00:00+14:00"), ("until", "9999-12-31T23:59:59-14:00")],
)
def test_usage_date_out_of_range_in_utc_is_400(
    client: TestClient, admin_key: str, field: str, moment: str
) -> None:
    r = client.get("/v1/usage", params={field: moment}, headers=auth(admin_key))
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_payload" and err["details"][0]["field"] == field


async def _concurrently(settings: Settings, admin: str, scenario: Any) -> Any:
    app = build(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            r = await client.post(
                "/v1/users", json={"email": "k@x.io", "credits": 20}, headers=auth(admin)
            )
            return await scenario(app, client, r.json())


def test_concurrent_duplicates_wait_for_the_first(settings: Settings, admin_key: str) -> None:
    async def scenario(app: Starlette, client: httpx.AsyncClient, user: dict[str, Any]) -> None:
        h = {**auth(user["api_key"]), "Idempotency-Key": "dup"}
        body = {"mode": "slow", "seconds": 0.2, "text": "once", "cost": 2}
        rs = await asyncio.gather(
            *[client.post("/test/billable", json=body, headers=h) for _ in range(12)]
        )
        assert [r.status_code for r in rs] == [200] * 12
        assert len({r.content for r in rs}) == 1
        assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in rs) == 11
        q = await client.get("/v1/quota", headers=auth(user["api_key"]))
        assert q.json()["remaining"] == 20
        ev = (await client.get("/v1/usage", headers=auth(user["api_key"]))).json()["events"]
        assert [e["status"] for e in ev] == ["charged"]

    asyncio.run(_concurrently(settings, admin_key, scenario))


def test_a_client_that_hangs_up_is_refunded(settings: Settings, admin_key: str) -> None:
    async def scenario(app: Starlette, client: httpx.AsyncClient, user: dict[str, Any]) -> None:
        key = user["api_key"]
        body = {"mode": "slow", "seconds": 5, "cost": 3}
        task = asyncio.ensure_future(client.post("/test/billable", json=body, headers=auth(key)))
        ctx = app.state.ctx
        for _ in range(200):  # wait until the spend has happened
            await asyncio.sleep(0.01)
            if (await ctx.billing.view(user["id"])).remaining == 19:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(200):
            await asyncio.sleep(0.01)
            if (await ctx.billing.view(user["id"])).remaining == 22:
                break
        ev = (await client.get("/v1/usage", headers=auth(key))).json()["events"]
        assert [(e["status"], e["status_code"]) for e in ev] == [("refunded", 499)]
        assert (await ctx.billing.view(user["id"])).remaining == 22

    asyncio.run(_concurrently(settings, admin_key, scenario))


def test_openapi_lists_the_billing_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/quota", "/v1/usage", "/v1/echo"} <= set(paths)
    echo = paths["/v1/echo"]["post"]
    assert {"200", "400", "401", "402", "409", "422", "429"} <= set(echo["responses"])
    assert [p["name"] for p in echo["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
    assert "Idempotency-Key" not in str(paths["/v1/quota"])


def test_start_up_refunds_interrupted_charges_and_orphaned_keys(
    settings: Settings, admin_key: str
) -> None:
    with TestClient(build(settings)) as client:
        user = make_user(client, admin_key, "crash@x.io", credits=5)

    # Simulate a process that stopped mid-request: a charge with no finish, and its key.
    def stopped_mid_request(conn: Connection) -> None:
        lost = quota.spend(conn, Charge(user["id"], "test", 3, "2025-06", "req-lost", "key-lost"))
        assert isinstance(lost, quota.Spent)
        bq.idempotency_insert(conn, user["id"], "key-lost", "test", "digest")

    with open_session(settings) as db:
        db.write(stopped_mid_request)
    with TestClient(build(settings)) as client:
        key = user["api_key"]
        assert get_quota(client, key)["remaining"] == 7  # 2 allowance + 5 purchased, all back
        (event,) = events(client, key)
        assert (event["status"], event["status_code"]) == ("refunded", 499)
        r = client.post(
            "/test/billable",
            json={"mode": "ok"},
            headers={**auth(key), "Idempotency-Key": "key-lost"},
        )
        assert r.status_code == 200 and "Idempotent-Replayed" not in r.headers


def test_in_progress_elsewhere_and_expired_keys(
    client: TestClient, admin_key: str, settings: Settings
) -> None:
    user = make_user(client, admin_key, "busy@x.io", credits=5)
    key = user["api_key"]
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    raw = json.dumps({"mode": "ok", "text": "t"}).encode()
    digest = idempotency.body_hash("test", raw)
    ctx.db.sync.write(bq.idempotency_insert, user["id"], "elsewhere", "test", digest)
    h = {**auth(key), "Idempotency-Key": "elsewhere", "Content-Type": "application/json"}
    r = client.post("/test/billable", content=raw, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_in_progress"
    assert r.headers["Retry-After"] == "1"
    # A finished key is replayed until it expires, then it is a new request.
    body = {"mode": "ok", "text": "t"}
    h = {**auth(key), "Idempotency-Key": "old"}
    first = client.post("/test/billable", json=body, headers=h)
    assert client.post("/test/billable", json=body, headers=h).headers["Idempotent-Replayed"]
    ctx.db.sync.write(
        lambda c: c.execute(
            "UPDATE idempotency_keys SET created_at = '2000-01-01T00:00:00.000Z' WHERE key = 'old'"
        )
    )
    again = client.post("/test/billable", json=body, headers=h)
    assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers
    assert (
        int(again.headers["X-Credits-Remaining"]) == int(first.headers["X-Credits-Remaining"]) - 1
    )


def test_the_allowance_renews_when_the_month_turns(client: TestClient, admin_key: str) -> None:
    user = make_user(client, admin_key, "month@x.io", credits=1)
    key = user["api_key"]
    billing = client.app.state.ctx.billing  # type: ignore[attr-defined]
    billing.clock = lambda: datetime(2025, 6, 30, 23, 59, tzinfo=UTC)
    for _ in range(3):  # 2 allowance + 1 purchased
        assert client.post("/v1/echo", json={"text": "x"}, headers=auth(key)).status_code == 200
    assert client.post("/v1/echo", json={"text": "x"}, headers=auth(key)).status_code == 402
    assert get_quota(client, key)["resets_at"] == "2025-07-01T00:00:00Z"
    billing.clock = lambda: datetime(2025, 7, 1, 0, 0, 1, tzinfo=UTC)
    view = get_quota(client, key)
    assert (view["remaining"], view["allowance_remaining"], view["purchased"]) == (2, 2, 0)
    r = client.post("/v1/echo", json={"text": "x"}, headers=auth(key))
    assert r.status_code == 200 and r.headers["X-Credits-Remaining"] == "1"
    with open_session(client.app.state.ctx.settings) as db:  # type: ignore[attr-defined]
        ledger = db.read(bq.ledger_for_user, user["id"])
    renewals = [r.source_ref for r in ledger if r.source == "monthly"]
    assert renewals == [f"2025-07:user:{user['id']}", f"2025-06:user:{user['id']}"]


def test_idempotency_key_on_a_get_is_bound_to_its_query(client: TestClient, admin_key: str) -> None:
    user = make_user(client, admin_key, "get@x.io", credits=5)
    h = {**auth(user["api_key"]), "Idempotency-Key": "lookup-1"}
    first = client.get("/test/lookup", params={"q": "apple"}, headers=h)
    assert first.status_code == 200 and first.json()["echo"] == "apple"
    again = client.get("/test/lookup", params={"q": "apple"}, headers=h)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    other = client.get("/test/lookup", params={"q": "tesla"}, headers=h)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert [e["status"] for e in events(client, user["api_key"])] == ["charged"]
