"""The endpoints the console added: admin grants and keys, usage per day, top-ups, checkout
state."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from appliance.app import create_app
from appliance.settings import Settings
from tests.helpers import auth, make_user
from tests.support.fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe, serve


def test_admin_grants_credits_once_per_reference(client: TestClient, admin_key: str) -> None:
    user = make_user(client, admin_key, "g@example.com")
    url = f"/v1/users/{user['id']}/credits"
    r = client.post(url, json={"credits": 40, "reference": "inv-1"}, headers=auth(admin_key))
    assert r.status_code == 200 and r.json()["granted"] and r.json()["purchased"] == 40
    again = client.post(url, json={"credits": 40, "reference": "inv-1"}, headers=auth(admin_key))
    assert again.status_code == 200 and again.json()["granted"] is False
    quota = client.get("/v1/quota", headers=auth(user["api_key"])).json()
    assert quota["purchased"] == 40
    # Taking back more than there is: refused, nothing changes.
    r = client.post(url, json={"credits": -41}, headers=auth(admin_key))
    assert r.status_code == 409 and r.json()["error"]["code"] == "insufficient_credits"
    assert client.get("/v1/quota", headers=auth(user["api_key"])).json()["purchased"] == 40
    # Only admins; real users only; a real amount.
    assert client.post(url, json={"credits": 5}, headers=auth(user["api_key"])).status_code == 403
    assert (
        client.post(
            "/v1/users/9999/credits", json={"credits": 5}, headers=auth(admin_key)
        ).status_code
        == 404
    )
    assert client.post(url, json={"credits": 0}, headers=auth(admin_key)).status_code == 400
    big = client.post(
        "/v1/users/99999999999999999999/credits", json={"credits": 1}, headers=auth(admin_key)
    )
    assert big.status_code == 404


def test_concurrent_grants_with_one_reference_grant_once(
    client: TestClient, admin_key: str
) -> None:
    user = make_user(client, admin_key, "race@example.com")
    url = f"/v1/users/{user['id']}/credits"
    results: list[int] = []

    def grant() -> None:
        r = client.post(url, json={"credits": 7, "reference": "same"}, headers=auth(admin_key))
        results.append(r.json()["granted"])

    threads = [threading.Thread(target=grant) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert client.get("/v1/quota", headers=auth(user["api_key"])).json()["purchased"] == 7


def test_admin_sees_a_users_keys_without_the_secrets(client: TestClient, admin_key: str) -> None:
    user = make_user(client, admin_key, "k@example.com")
    r = client.get(f"/v1/users/{user['id']}/keys", headers=auth(admin_key))
    assert r.status_code == 200
    (key,) = r.json()["keys"]
    assert user["api_key"].startswith(f"apk_{key['prefix']}_") and "api_key" not in key
    assert (
        client.get(f"/v1/users/{user['id']}/keys", headers=auth(user["api_key"])).status_code == 403
    )


def test_usage_per_day_counts_kept_credits_by_endpoint(settings: Settings, admin_key: str) -> None:
    echo = settings.model_copy(update={"echo_endpoint": True})
    with TestClient(create_app(echo)) as c:
        user = make_user(c, admin_key, "d@example.com")
        h = auth(user["api_key"])
        for _ in range(3):
            assert c.post("/v1/echo", json={"text": "x"}, headers=h).status_code == 200
        days = c.get("/v1/usage/daily", params={"days": 7}, headers=h).json()
        assert len(days["days"]) == 1
        (row,) = days["days"]
        assert row == {**row, "endpoint": "echo", "credits": 3, "calls": 3, "free_calls": 0}
        assert days["since"] <= row["day"] < days["until"]
        other = make_user(c, admin_key, "o@example.com")
        assert c.get("/v1/usage/daily", headers=auth(other["api_key"])).json()["days"] == []
        assert c.get("/v1/usage/daily", params={"days": 0}, headers=h).status_code == 400


def test_top_ups_name_the_packs_and_the_provider(client: TestClient, admin_key: str) -> None:
    r = client.get("/billing/packs", headers=auth(admin_key))
    assert r.json() == {
        "provider": "disabled",
        "packs": [{"name": "credits_200", "credits": 200, "amount_cents": 1000, "currency": "usd"}],
        "licenses": True,
    }
    assert client.get("/billing/packs").status_code == 401


@pytest.fixture
def stripe_client(
    tmp_path: Path, settings: Settings, admin_key: str
) -> Iterator[tuple[TestClient, FakeStripe]]:
    fake = FakeStripe()
    with serve(fake) as base:
        paid = settings.model_copy(
            update={
                "stripe_secret_key": SecretStr(API_KEY),
                "stripe_webhook_secret": SecretStr(WEBHOOK_SECRET),
                "stripe_api_base": base,
            }
        )
        with TestClient(create_app(paid)) as c:
            yield c, fake


def test_checkout_state_is_the_buyers_only_and_follows_the_webhook(
    stripe_client: tuple[TestClient, FakeStripe], admin_key: str
) -> None:
    c, fake = stripe_client
    buyer = make_user(c, admin_key, "buyer@example.com")
    other = make_user(c, admin_key, "other@example.com")
    sid = c.post(
        "/billing/checkout/credits", json={"pack": "credits_200"}, headers=auth(buyer["api_key"])
    ).json()["session_id"]
    url = f"/billing/checkout/sessions/{sid}"
    state = c.get(url, headers=auth(buyer["api_key"])).json()
    assert state["status"] == "open" and state["credits"] == 200 and state["credited_at"] is None
    assert c.get(url, headers=auth(other["api_key"])).status_code == 404
    payload, headers = fake.delivery(fake.complete(sid))
    assert c.post("/billing/webhook", content=payload, headers=headers).status_code == 200
    state = c.get(url, headers=auth(buyer["api_key"])).json()
    assert state["status"] == "credited" and state["credited_at"]
    assert c.get("/billing/packs", headers=auth(buyer["api_key"])).json()["provider"] == "stripe"
