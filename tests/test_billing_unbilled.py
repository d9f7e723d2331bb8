"""The billing seam's "answered, but not billable" outcome (:class:`Unbilled`): the charge comes
back, the usage event records the outcome with cost 0, keys replay it free, and the books stay
exact under concurrency. A test-only billable route chooses the outcome per request. The
money tests run on SQLite and on PostgreSQL (a fresh database each)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from appliance.api.billable import Call, Unbilled, billable
from appliance.app import create_app
from appliance.billing import quota
from appliance.bootstrap import initialize
from appliance.db.connection import Connection
from appliance.db.database import open_session
from appliance.db.queries import billing as bq
from appliance.db.queries import scalar
from appliance.db.queries.billing import Charge
from appliance.settings import Settings, load_settings
from tests.helpers import auth, make_user


class QuestionBody(BaseModel):
    outcome: str
    q: int | None = None
    cost: int = 1
    seconds: float = 0


class QuestionOut(BaseModel):
    status: str
    q: int | None


@billable(
    "qa",
    "A billable question whose outcome the body chooses",
    body=QuestionBody,
    response=QuestionOut,
    cost=lambda _settings, body: body.cost,
    cost_doc="cost credits",
)
async def question(call: Call[QuestionBody]) -> dict[str, Any] | Unbilled:
    body = call.input
    await asyncio.sleep(body.seconds)
    if body.outcome == "answered":
        return {"status": "answered", "q": body.q}
    return Unbilled({"status": body.outcome, "q": body.q}, body.outcome)


def build(settings: Settings) -> Starlette:
    app = create_app(settings)
    app.router.routes.append(Route("/test/question", question, methods=["POST"]))
    return app


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        load_models=False,
        access_log=False,
        rate_limit_per_second=0,
        free_monthly_credits=2,
        **extra,
    )


@pytest.fixture
def settings(engine_settings: Settings) -> Settings:
    return engine_settings.model_copy(
        update={"rate_limit_per_second": 0, "free_monthly_credits": 2}
    )


@pytest.fixture
def client(settings: Settings, admin_key: str) -> Iterator[TestClient]:
    with TestClient(build(settings)) as c:
        yield c


def remaining(client: TestClient, key: str) -> int:
    value: int = client.get("/v1/quota", headers=auth(key)).json()["remaining"]
    return value


def usage(client: TestClient, key: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get("/v1/usage", headers=auth(key)).json()["events"]
    return found


def metric(client: TestClient, line_start: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.split()[-1])
    return 0.0


def _books(conn: Connection, user_id: int) -> tuple[int, int, int]:
    b = bq.balances(conn, user_id)
    assert b is not None
    kept = scalar(
        conn,
        "SELECT coalesce(sum(cost), 0) FROM usage_events WHERE user_id = ? AND status = 'charged'",
        (user_id,),
    )
    refunds = scalar(
        conn,
        "SELECT count(*) FROM credit_ledger WHERE user_id = ? AND source = 'refund'",
        (user_id,),
    )
    return b.allowance_remaining + b.purchased, int(kept), int(refunds)


def books(settings: Settings, user_id: int) -> tuple[int, int, int]:
    """(spendable balance, credits kept by charged events, ledger refund rows) of a user."""
    with open_session(settings) as db:
        return db.read(_books, user_id)


@pytest.mark.parametrize("outcome", ["no_answer", "not_indexed"])
def test_an_unbilled_answer_costs_nothing_and_is_recorded(
    client: TestClient, admin_key: str, settings: Settings, outcome: str
) -> None:
    user = make_user(client, admin_key, f"{outcome}@x.io", credits=3)
    key = user["api_key"]
    before = remaining(client, key)  # 2 allowance + 3 purchased
    # Cost 3: takes the whole allowance and one purchased credit, and gives both back.
    r = client.post("/test/question", json={"outcome": outcome, "cost": 3}, headers=auth(key))
    assert r.status_code == 200 and r.json() == {"status": outcome, "q": None}
    assert r.headers["X-Credits-Remaining"] == str(before) == "5"
    assert remaining(client, key) == before
    (event,) = usage(client, key)
    assert (event["status"], event["cost"], event["status_code"]) == (outcome, 0, 200)
    assert event["quota_before"] == event["quota_after"] == before
    assert event["from_allowance"] == 0 and event["finished_at"]
    # The books: nothing kept, nothing given back through the ledger (no debit to undo).
    assert books(settings, user["id"]) == (before, 0, 0)
    assert metric(client, 'appliance_credits_refunded_total{endpoint="qa"}') == 3
    assert metric(client, f'appliance_unbilled_requests_total{{endpoint="qa",status="{outcome}"}}')
    # An answer is charged, exactly once.
    r = client.post("/test/question", json={"outcome": "answered"}, headers=auth(key))
    assert r.status_code == 200 and r.headers["X-Credits-Remaining"] == str(before - 1)
    assert remaining(client, key) == before - 1
    assert [e["status"] for e in usage(client, key)] == ["charged", outcome]


def test_keyed_unbilled_answers_replay_free(client: TestClient, admin_key: str) -> None:
    user = make_user(client, admin_key, "k@x.io", credits=5)
    key = user["api_key"]
    h = {**auth(key), "Idempotency-Key": "q-1"}
    first = client.post("/test/question", json={"outcome": "no_answer", "q": 1}, headers=h)
    again = client.post("/test/question", json={"outcome": "no_answer", "q": 1}, headers=h)
    assert first.status_code == again.status_code == 200 and first.content == again.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.headers["X-Credits-Remaining"] == again.headers["X-Credits-Remaining"] == "7"
    other = client.post("/test/question", json={"outcome": "no_answer", "q": 2}, headers=h)
    assert other.status_code == 422  # the key stays bound to its answer
    # A keyed answer is charged once however often it is replayed.
    h2 = {**auth(key), "Idempotency-Key": "q-2"}
    for _ in range(3):
        r = client.post("/test/question", json={"outcome": "answered"}, headers=h2)
        assert r.status_code == 200 and r.headers["X-Credits-Remaining"] == "6"
    assert remaining(client, key) == 6
    assert sorted(e["status"] for e in usage(client, key)) == ["charged", "no_answer"]


def test_unbilled_answers_need_credits_to_start(client: TestClient, admin_key: str) -> None:
    """The spend comes first (nobody knows the outcome before the work), so an empty balance
    is 402 even for a question that would have been free."""
    user = make_user(client, admin_key, "empty@x.io")
    key = user["api_key"]
    for _ in range(2):
        client.post("/test/question", json={"outcome": "answered"}, headers=auth(key))
    r = client.post("/test/question", json={"outcome": "no_answer"}, headers=auth(key))
    assert r.status_code == 402 and r.json()["error"]["code"] == "quota_exhausted"


def test_concurrent_questions_charge_answers_exactly_once(
    settings: Settings, admin_key: str
) -> None:
    """48 questions at once, half answered and half not, some keyed and sent twice at once:
    the balance drops by exactly the answered ones, and the books stay exact."""

    async def scenario() -> tuple[list[httpx.Response], int, list[dict[str, Any]], int]:
        app = build(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                r = await client.post(
                    "/v1/users",
                    json={"email": "race@x.io", "credits": 100},
                    headers=auth(admin_key),
                )
                user = r.json()
                assert r.status_code == 201, user
                key = user["api_key"]

                async def ask(n: int) -> httpx.Response:
                    if n % 3 == 0:  # keyed: each key sent twice at once, with the same body
                        pair = n // 6
                        outcome = "answered" if pair % 2 else "no_answer"
                        body = {"outcome": outcome, "seconds": 0.02, "q": pair}
                        headers = {**auth(key), "Idempotency-Key": f"race-{pair}"}
                    else:
                        outcome = "answered" if n % 2 else ("no_answer", "not_indexed")[n % 4 // 2]
                        body = {"outcome": outcome, "seconds": 0.01 * (n % 5), "q": n}
                        headers = auth(key)
                    return await client.post("/test/question", json=body, headers=headers)

                responses = await asyncio.gather(*(ask(n) for n in range(48)))
                left = (await client.get("/v1/quota", headers=auth(key))).json()["remaining"]
                events = (await client.get("/v1/usage", headers=auth(key))).json()["events"]
                return list(responses), int(left), events, int(user["id"])

    responses, after, events, user_id = asyncio.run(scenario())
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    answered = [r for r in responses if r.json()["status"] == "answered"]
    replays = [r for r in responses if r.headers.get("Idempotent-Replayed")]
    assert len(replays) == 8  # 16 keyed requests, 8 keys
    charged = [e for e in events if e["status"] == "charged"]
    # Answered: 16 unkeyed + 4 keys (each sent twice); not answered: 16 unkeyed + 4 keys.
    assert len(charged) == len([r for r in answered if r not in replays]) == 20
    assert after == 102 - 20
    unbilled = [e for e in events if e["status"] in quota.UNBILLED_STATUSES]
    assert len(unbilled) == 20 and all(e["cost"] == 0 for e in unbilled)
    assert books(settings, user_id) == (after, 20, 0)


def test_an_outcome_the_meter_cannot_record_is_refunded(settings: Settings, admin_key: str) -> None:
    """``Unbilled`` with another status fails inside the work: the charge comes back (never a
    charge left 'charged' without an answer, nor an event the books cannot explain)."""
    with TestClient(build(settings), raise_server_exceptions=False) as client:
        user = make_user(client, admin_key, "odd@x.io", credits=3)
        key = user["api_key"]
        before = remaining(client, key)
        r = client.post("/test/question", json={"outcome": "refunded"}, headers=auth(key))
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
        assert remaining(client, key) == before
        assert [(e["status"], e["status_code"]) for e in usage(client, key)] == [("refunded", 500)]


def test_billing_off_answers_unbilled_plainly(tmp_path: Path) -> None:
    settings = _settings(tmp_path, billing_enabled=False)
    admin = initialize(settings).admin_api_key
    assert admin
    with TestClient(build(settings)) as client:
        r = client.post("/test/question", json={"outcome": "no_answer"}, headers=auth(admin))
        assert r.status_code == 200 and r.json()["status"] == "no_answer"
        assert "X-Credits-Remaining" not in r.headers


def _spend_first_user(conn: Connection) -> quota.Spent | quota.Rejected:
    uid = int(scalar(conn, "SELECT id FROM users ORDER BY id LIMIT 1"))
    return quota.spend(conn, Charge(uid, "qa", 1, "2030-01", "r1", None), 2)


def _waive_then_refund(conn: Connection, usage_id: int) -> tuple[Any, Any]:
    return (
        quota.waive(conn, usage_id, "no_answer", 200, 1.0),
        quota.refund(conn, usage_id, 500, 1.0),
    )


def test_waive_is_once_and_only_for_charges(settings: Settings) -> None:
    initialize(settings)
    with open_session(settings) as db:
        spent = db.write(_spend_first_user)
        assert isinstance(spent, quota.Spent)
        first = db.write(quota.waive, spent.usage_id, "no_answer", 200, 1.0)
        second, refund = db.write(_waive_then_refund, spent.usage_id)
        assert first is not None and first.credits == 1 and second is None and refund is None
        with pytest.raises(ValueError):
            db.write(quota.waive, spent.usage_id, "refunded", 200, 1.0)
