"""Stripe Checkout, the webhook and reconcile, through the real app and the real stripe library.

Only Stripe's HTTP is fake (tests/fake_stripe.py, on a loopback port); deliveries are signed
the way Stripe signs them.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from appliance.app import create_app
from appliance.bootstrap import initialize
from appliance.db.connection import connect
from appliance.settings import Settings, load_settings
from tests.helpers import auth, make_user
from tests.support.fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe, serve


@pytest.fixture
def fake() -> FakeStripe:
    return FakeStripe()


@pytest.fixture
def stripe_base(fake: FakeStripe) -> Iterator[str]:
    with serve(fake) as base:
        yield base


@pytest.fixture
def settings(tmp_path: Path, stripe_base: str) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        load_models=False,
        access_log=False,
        stripe_secret_key=API_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stripe_base,
        credit_packs={
            "credits_200": {"credits": 200, "amount_cents": 1000, "currency": "usd"},
            "credits_1000": {"credits": 1000, "amount_cents": 4000, "currency": "eur"},
        },
        # A billable endpoint to spend purchased credits with (no free allowance in the way).
        echo_endpoint=True,
        cost_echo=50,
        free_monthly_credits=0,
    )


@pytest.fixture
def buyer(client: TestClient, admin_key: str) -> dict[str, Any]:
    return make_user(client, admin_key, "buyer@example.com")


def balance(client: TestClient, user: dict[str, Any]) -> int:
    r = client.get("/v1/me", headers=auth(user["api_key"]))
    assert r.status_code == 200, r.text
    value: int = r.json()["purchased"]
    return value


def checkout(client: TestClient, user: dict[str, Any], pack: str = "credits_200") -> str:
    r = client.post("/billing/checkout/credits", json={"pack": pack}, headers=auth(user["api_key"]))
    assert r.status_code == 200, r.text
    session_id: str = r.json()["session_id"]
    return session_id


def deliver(
    client: TestClient,
    fake: FakeStripe,
    event: dict[str, Any],
    *,
    timestamp: int | None = None,
    secret: str | None = None,
) -> tuple[int, dict[str, Any]]:
    payload, headers = fake.delivery(event, timestamp, secret)
    r = client.post("/billing/webhook", content=payload, headers=headers)
    return r.status_code, r.json()


def db_rows(settings: Settings, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = connect(settings.db_path)
    try:
        return [tuple(r) for r in conn.execute(sql, args).fetchall()]
    finally:
        conn.close()


# ----- checkout -----


def test_checkout_creates_a_payment_session_for_the_caller(
    client: TestClient, fake: FakeStripe, buyer: dict[str, Any], settings: Settings
) -> None:
    r = client.post(
        "/billing/checkout/credits", json={"pack": "credits_1000"}, headers=auth(buyer["api_key"])
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"checkout_url", "session_id"}
    assert body["checkout_url"].endswith(body["session_id"])
    method, path, params = fake.requests[-1]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert params["mode"] == "payment"
    assert params["client_reference_id"] == str(buyer["id"])
    assert params["metadata"]["pack"] == "credits_1000"
    assert params["payment_intent_data"]["metadata"]["pack"] == "credits_1000"
    assert params["line_items"][0]["price_data"] == {
        "currency": "eur",
        "unit_amount": "4000",
        "product_data": {"name": "1000 credits"},
    }
    rows = db_rows(
        settings,
        "SELECT user_id, pack, credits, status FROM stripe_checkouts WHERE session_id = ?",
        body["session_id"],
    )
    assert rows == [(buyer["id"], "credits_1000", 1000, "open")]


def test_checkout_errors(client: TestClient, fake: FakeStripe, buyer: dict[str, Any]) -> None:
    r = client.post("/billing/checkout/credits", json={"pack": "credits_200"})
    assert r.status_code == 401
    r = client.post(
        "/billing/checkout/credits", json={"pack": "gold"}, headers=auth(buyer["api_key"])
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_pack"
    assert "credits_200" in r.json()["error"]["details"]["packs"]
    r = client.post("/billing/checkout/credits", json={}, headers=auth(buyer["api_key"]))
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_payload"
    fake.fail_next = (400, "Invalid currency")
    r = client.post(
        "/billing/checkout/credits", json={"pack": "credits_200"}, headers=auth(buyer["api_key"])
    )
    assert r.status_code == 502 and r.json()["error"]["code"] == "payment_provider_error"


# ----- webhook: valid, forged, stale -----


def test_paid_checkout_is_credited(
    client: TestClient, fake: FakeStripe, buyer: dict[str, Any], settings: Settings
) -> None:
    session_id = checkout(client, buyer)
    assert balance(client, buyer) == 0
    status, body = deliver(client, fake, fake.complete(session_id))
    assert status == 200 and body["result"] == "credited"
    assert balance(client, buyer) == 200
    ledger = db_rows(
        settings,
        "SELECT user_id, source, source_ref, delta, balance_after FROM credit_ledger"
        " WHERE pool = 'purchased'",
    )
    assert ledger == [(buyer["id"], "stripe", f"checkout:{session_id}", 200, 200)]
    rows = db_rows(settings, "SELECT status, payment_intent FROM stripe_checkouts")
    assert rows[0][0] == "credited" and rows[0][1].startswith("pi_")


def test_forged_deliveries_are_refused(
    client: TestClient, fake: FakeStripe, buyer: dict[str, Any], settings: Settings
) -> None:
    session_id = checkout(client, buyer)
    event = fake.complete(session_id)
    status, body = deliver(client, fake, event, secret="whsec_attacker")
    assert status == 400 and body["error"]["code"] == "invalid_signature"
    # A valid signature over a different body: the pack swapped after signing.
    payload, headers = fake.delivery(event)
    tampered = payload.replace(b'"credits_200"', b'"credits_1000"')
    assert tampered != payload
    r = client.post("/billing/webhook", content=tampered, headers=headers)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_signature"
    for header in ("", "t=abc,v1=00", f"t={int(time.time())}", "v1=" + "0" * 64):
        r = client.post("/billing/webhook", content=payload, headers={"Stripe-Signature": header})
        assert r.status_code == 400, header
    r = client.post("/billing/webhook", content=payload)
    assert r.status_code == 400
    assert balance(client, buyer) == 0
    assert db_rows(settings, "SELECT count(*) FROM stripe_events") == [(0,)]
    # A rolled secret: Stripe sends one v1 per secret; any match is enough.
    good = fake.sign(payload).split(",")
    header = f"{good[0]},v1={'ab' * 32},{good[1]}"
    r = client.post("/billing/webhook", content=payload, headers={"Stripe-Signature": header})
    assert r.status_code == 200 and balance(client, buyer) == 200


def test_non_ascii_digit_timestamp_is_refused_not_a_crash(
    client: TestClient, fake: FakeStripe, buyer: dict[str, Any]
) -> None:
    # Headers are latin-1: superscript digits pass str.isdigit() but not int(). TestClient
    # re-encodes header bytes as UTF-8, so the raw bytes go through httpx's ASGI transport.
    payload, _ = fake.delivery(fake.complete(checkout(client, buyer)))

    async def post(header: bytes) -> httpx.Response:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.post(
                "/billing/webhook", content=payload, headers={"Stripe-Signature": header}
            )

    for digits in ("\u00b2", "1\u00b9"):
        r = asyncio.run(post(f"t={digits},v1={'0' * 64}".encode("latin-1")))
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "invalid_signature"
    assert balance(client, buyer) == 0


def test_stale_and_future_signatures_are_refused(
    client: TestClient, fake: FakeStripe, buyer: dict[str, Any]
) -> None:
    session_id = checkout(client, buyer)
    event = fake.complete(session_id)
    now = int(time.time())
    for ts in (now - 400, now - 301 - 5, now + 400):
        status, body = deliver(client, fake, event, timestamp=ts)
        assert status == 400 and body["error"]["code"] == "invalid_signature", ts
    assert balance(client, buyer) == 0
    status, body = deliver(client, fake, event, timestamp=now - 250)  # within the tolerance
    assert status == 200 and body["result"] == "credited"


# ----- exactly once: duplicates, retries, order -----


def test_duplicates_credit_once_even_concurrently(
    client: TestClient, fake: FakeStripe, buyer: dict[str, Any], settings: Settings
) -> None:
    session_id = checkout(client, buyer)
    completed = fake.complete(session_id)
    results: list[str] = []
    lock = threading.Lock()

    def send() -> None:
        status, body = deliver(client, fake, completed)
        assert status == 200
        with lock:
            results.append(body["result"])

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["credited"] + ["duplicate"] * 7
    # A second event about the same payment (and its redelivery) credits nothing more.
    succeeded = fake.async_succeeded(session_id)
    assert deliver(client, fake, succeeded)[1]["result"] == "already_credited"
    assert deliver(client, fake, succeeded)[1]["result"] == "duplicate"
    assert balance(client, buyer) == 200
    assert db_rows(settings, "SELECT count(*) FROM credit_ledger WHERE source = 'stripe'") == [(1,)]
    assert db_rows(settings, "SELECT count(*) FROM stripe_events") == [(2,)]


def test_async_payment_in_either_order(
    client: TestClient, fake: FakeStripe, buyer: dict[str, Any], settings: Settings
) -> None:
    # In order: completed (unpaid, bank debit pending), then async success.
    first = checkout(client, buyer)
    pending = fake.complete(first, paid=False)
    assert deliver(client, fake, pending)[1]["result"] == "pending"
    assert balance(client, buyer) == 0
    assert deliver(client, fake, fake.async_succeeded(first))[1]["result"] == "credited"
    assert balance(client, buyer) == 200
    # Out of order: the success arrives before the completed (unpaid) snapshot.
    second = checkout(client, buyer)
    late_pending = fake.complete(second, paid=False)
    succeeded = fake.async_succeeded(second)
    assert deliver(client, fake, succeeded)[1]["result"] == "credited"
    assert deliver(client, fake, late_pending)[1]["result"] == "pending"
    assert balance(client, buyer) == 400
    statuses = db_rows(settings, "SELECT status FROM stripe_checkouts ORDER BY session_id")
    assert statuses == [("credited",), ("credited",)]


def test_failed_and_expired_are_recorded_not_credited(
    client: TestClient, fake: FakeStripe, buyer: dict[str, Any], settings: Settings
) -> None:
    failed, expired = checkout(client, buyer), checkout(client, buyer)
    deliver(client, fake, fake.complete(failed, paid=False))
    assert deliver(client, fake, fake.async_failed(failed))[1]["result"] == "failed"
    assert deliver(client, fake, fake.expire(expired))[1]["result"] == "expired"
    assert balance(client, buyer) == 0
    rows = db_rows(settings, "SELECT session_id, status FROM stripe_checkouts ORDER BY 1")
    assert rows == [(failed, "failed"), (expired, "expired")]
    results = db_rows(settings, "SELECT type, result FROM stripe_events ORDER BY received_at")
    assert ("checkout.session.async_payment_failed", "failed") in results
    assert ("checkout.session.expired", "expired") in results
    # A failure delivered late never undoes a credit.
    paid = checkout(client, buyer)
    deliver(client, fake, fake.complete(paid))
    assert deliver(client, fake, fake.expire(paid))[1]["result"] == "no_change"
    assert balance(client, buyer) == 200


def test_event_is_recorded_only_with_its_effect(
    client: TestClient,
    fake: FakeStripe,
    buyer: dict[str, Any],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import appliance.billing.webhook as webhook

    real = webhook.add_credits
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(webhook, "add_credits", flaky)
    session_id = checkout(client, buyer)
    event = fake.complete(session_id)
    payload, headers = fake.delivery(event)
    # Same running app; this client reports the 500 instead of raising it.
    retrying = TestClient(client.app, raise_server_exceptions=False)
    r = retrying.post("/billing/webhook", content=payload, headers=headers)
    assert r.status_code == 500  # Stripe will deliver again
    assert db_rows(settings, "SELECT count(*) FROM stripe_events") == [(0,)]
    assert balance(client, buyer) == 0
    assert deliver(client, fake, event)[1]["result"] == "credited"
    assert balance(client, buyer) == 200


# ----- refunds -----


def test_full_refund_claws_back_below_zero(
    client: TestClient, fake: FakeStripe, buyer: dict[str, Any], settings: Settings
) -> None:
    session_id = checkout(client, buyer)
    deliver(client, fake, fake.complete(session_id))
    for _ in range(3):  # the buyer spends 150 of the 200 credits
        r = client.post("/v1/echo", json={"text": "x"}, headers=auth(buyer["api_key"]))
        assert r.status_code == 200, r.text
    assert balance(client, buyer) == 50
    refund = fake.refund(session_id)
    status, body = deliver(client, fake, refund)
    assert status == 200 and body["result"] == "clawed_back"
    assert balance(client, buyer) == -150  # the debt is kept, not forgiven
    assert deliver(client, fake, refund)[1]["result"] == "duplicate"
    assert balance(client, buyer) == -150
    r = client.post("/v1/echo", json={"text": "x"}, headers=auth(buyer["api_key"]))
    assert r.status_code == 402 and r.json()["error"]["code"] == "quota_exhausted"
    # Another top-up pays the debt first.
    deliver(client, fake, fake.complete(checkout(client, buyer)))
    assert balance(client, buyer) == 50
    r = client.post("/v1/echo", json={"text": "x"}, headers=auth(buyer["api_key"]))
    assert r.status_code == 200
    rows = db_rows(
        settings, "SELECT source_ref, delta FROM credit_ledger WHERE source = 'stripe' ORDER BY id"
    )
    assert [delta for _, delta in rows] == [200, -200, 200]
    assert rows[1][0] == f"refund:{session_id}:200"


def test_partial_refunds_in_any_order(
    client: TestClient, fake: FakeStripe, buyer: dict[str, Any]
) -> None:
    session_id = checkout(client, buyer)
    deliver(client, fake, fake.complete(session_id))
    quarter = fake.refund(session_id, 250)  # cumulative 250 of 1000 cents
    half = fake.refund(session_id, 250)  # cumulative 500
    assert deliver(client, fake, half)[1]["result"] == "clawed_back"
    assert balance(client, buyer) == 100
    # The older, smaller cumulative refund arrives late: nothing more to take.
    assert deliver(client, fake, quarter)[1]["result"] == "no_change"
    assert balance(client, buyer) == 100
    assert deliver(client, fake, fake.refund(session_id))[1]["result"] == "clawed_back"
    assert balance(client, buyer) == 0


def test_refund_delivered_before_the_payment(
    client: TestClient, fake: FakeStripe, buyer: dict[str, Any]
) -> None:
    session_id = checkout(client, buyer)
    completed = fake.complete(session_id)
    refund = fake.refund(session_id)
    assert deliver(client, fake, refund)[1]["result"] == "refund_recorded"
    status, body = deliver(client, fake, completed)
    assert status == 200 and body["result"] == "credited"
    assert balance(client, buyer) == 0  # credited and clawed back in one transaction


# ----- events the appliance did not start -----


def test_amounts_come_from_the_server_not_the_event(
    client: TestClient, fake: FakeStripe, buyer: dict[str, Any], settings: Settings
) -> None:
    foreign = {
        "id": "cs_test_external",
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "payment_intent": "pi_test_external",
        "client_reference_id": str(buyer["id"]),
        "metadata": {"pack": "credits_200", "credits": "999999"},
        "amount_total": 1,
    }
    status, body = deliver(client, fake, fake.session_event("checkout.session.completed", foreign))
    assert status == 200 and body["result"] == "credited"
    assert balance(client, buyer) == 200
    unknown = {**foreign, "id": "cs_test_gold", "metadata": {"pack": "gold"}}
    event = fake.session_event("checkout.session.completed", unknown)
    assert deliver(client, fake, event)[1]["result"] == "rejected"
    nobody = {**foreign, "id": "cs_test_nobody", "client_reference_id": "424242"}
    event = fake.session_event("checkout.session.completed", nobody)
    assert deliver(client, fake, event)[1]["result"] == "rejected"
    other_install = {
        **foreign,
        "id": "cs_test_other",
        "metadata": {"pack": "credits_200", "install_id": "elsewhere"},
    }
    event = fake.session_event("checkout.session.completed", other_install)
    assert deliver(client, fake, event)[1]["result"] == "ignored"
    event = fake.session_event("customer.created", {"id": "cus_1", "object": "customer"})
    assert deliver(client, fake, event)[1]["result"] == "ignored"
    assert balance(client, buyer) == 200


def test_webhook_metrics(client: TestClient, fake: FakeStripe, buyer: dict[str, Any]) -> None:
    session_id = checkout(client, buyer)
    event = fake.complete(session_id)
    deliver(client, fake, event)
    deliver(client, fake, event)
    deliver(client, fake, event, secret="whsec_wrong")
    text = client.get("/metrics").text
    assert (
        'appliance_stripe_webhook_events_total{result="credited",'
        'type="checkout.session.completed"} 1.0' in text
    )
    assert (
        'appliance_stripe_webhook_events_total{result="duplicate",'
        'type="checkout.session.completed"} 1.0' in text
    )
    assert (
        'appliance_stripe_webhook_events_total{result="invalid_signature",type="unknown"} 1.0'
        in text
    )


# ----- reconcile -----


def test_reconcile_applies_what_the_webhook_missed(
    client: TestClient,
    fake: FakeStripe,
    buyer: dict[str, Any],
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from appliance.cli import main

    paid, refunded, pending = (
        checkout(client, buyer),
        checkout(client, buyer),
        checkout(client, buyer),
    )
    delivered = fake.complete(paid)
    deliver(client, fake, delivered)  # only this one reached the webhook
    fake.complete(refunded)
    fake.refund(refunded, 500)
    fake.complete(pending, paid=False)
    for name, value in {
        "APPLIANCE_STRIPE_SECRET_KEY": API_KEY,
        "APPLIANCE_STRIPE_API_BASE": settings.stripe_api_base or "",
        "APPLIANCE_CREDIT_PACKS": json.dumps(
            {k: v.model_dump() for k, v in settings.credit_packs.items()}
        ),
    }.items():
        monkeypatch.setenv(name, value)
    d = str(settings.data_dir)
    assert main(["billing", "reconcile", "--json", "--data-dir", d]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["events_seen"] == 4
    assert report["results"] == {
        "duplicate": 1,
        "credited": 1,
        "clawed_back": 1,
        "pending": 1,
    }
    assert balance(client, buyer) == 200 + 200 - 100
    assert main(["billing", "reconcile", "--json", "--data-dir", d]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["results"] == {"duplicate": 4} and again["applied"] == []
    # A webhook arriving after the reconcile finds its event recorded.
    late = fake.events[1]
    assert deliver(client, fake, late)[1]["result"] == "duplicate"
    vias = db_rows(settings, "SELECT via, count(*) FROM stripe_events GROUP BY via ORDER BY via")
    assert vias == [("reconcile", 3), ("webhook", 1)]


# ----- payments off -----


def test_without_stripe_keys_payments_are_disabled(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d", load_models=False, access_log=False)
    admin = initialize(settings).admin_api_key
    assert admin
    with TestClient(create_app(settings)) as c:
        assert c.get("/readyz").status_code == 200
        r = c.post("/billing/checkout/credits", json={"pack": "credits_200"}, headers=auth(admin))
        assert r.status_code == 503 and r.json()["error"]["code"] == "billing_disabled"
        r = c.post("/billing/webhook", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "billing_disabled"


# ----- the pieces on their own -----


def test_signature_scheme_agrees_with_the_stripe_library() -> None:
    import stripe

    from appliance.billing import stripe_signature
    from appliance.billing.stripe_signature import InvalidSignature

    payload = json.dumps({"id": "evt_1", "note": "ünïcode"}).encode()
    now = int(time.time())
    ours = stripe_signature.sign_header(WEBHOOK_SECRET, payload, now)
    assert stripe.WebhookSignature.verify_header(payload, ours, WEBHOOK_SECRET, 300)
    theirs = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), WEBHOOK_SECRET, now
    )
    assert stripe_signature.verify(payload, theirs, WEBHOOK_SECRET, now=now) == now
    # Boundaries: exactly the tolerance is accepted on both sides, one second more is not.
    assert stripe_signature.verify(payload, ours, WEBHOOK_SECRET, now=now + 300) == now
    assert stripe_signature.verify(payload, ours, WEBHOOK_SECRET, now=now - 300) == now
    for skew in (301, -301):
        with pytest.raises(InvalidSignature):
            stripe_signature.verify(payload, ours, WEBHOOK_SECRET, now=now + skew)
    # Raw bytes that are not UTF-8 are verified as bytes, not crashed on.
    binary = b"\xff\xfe" + payload
    header = stripe_signature.sign_header(WEBHOOK_SECRET, binary, now)
    assert stripe_signature.verify(binary, header, WEBHOOK_SECRET, now=now) == now


def test_provider_through_a_plugged_http_client() -> None:
    """The other transport seam: the fake as the library's HTTP client, no socket at all."""
    from appliance.billing.providers import CheckoutRequest, StripeProvider
    from appliance.settings import CreditPack
    from tests.support.fake_stripe import FakeStripeHTTPClient

    fake = FakeStripe()
    provider = StripeProvider(API_KEY, WEBHOOK_SECRET, http_client=FakeStripeHTTPClient(fake))
    request = CheckoutRequest(
        7,
        "credits_200",
        CreditPack(credits=200, amount_cents=1000),
        "inst",
        "https://ok",
        "https://cancel",
    )
    sessions = [provider.create_checkout(request) for _ in range(3)]
    assert len({s.session_id for s in sessions}) == 3
    old = int(time.time()) - 10 * 86400
    for i in range(230):  # more than two pages of 100
        fake.session_event("checkout.session.expired", {"id": f"cs_{i}"}, created=old + i)
    fake.session_event("customer.created", {"id": "cus_1"})  # not a handled type
    events = list(provider.recent_events(old + 20))
    assert [e["data"]["object"]["id"] for e in events] == [f"cs_{i}" for i in range(20, 230)]
    listed = [p for m, path, p in fake.requests if path == "/v1/events"]
    assert len(listed) == 3 and listed[1]["starting_after"]
    assert "checkout.session.completed" in listed[0]["types"]
