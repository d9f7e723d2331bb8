"""A fake of Stripe's HTTP API, for tests that must never touch the network.

Only the transport is fake: the appliance talks to it through the real ``stripe`` library,
either by pointing ``stripe_api_base`` at :func:`serve` (a loopback HTTP server) or by
plugging :class:`FakeStripeHTTPClient` into ``stripe.StripeClient``. It keeps sessions and
events as Stripe would, plays a buyer's actions (pay, async success/failure, expiry, refunds)
and signs webhook deliveries the way Stripe does (``t=<time>,v1=<HMAC-SHA256 hex>``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import stripe

API_KEY = "sk_test_fake_appliance"
WEBHOOK_SECRET = "whsec_test_fake_appliance"
_KEY_PART = re.compile(r"\[([^\]]*)\]")


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head = key.split("[", 1)[0]
        parts = [head, *_KEY_PART.findall(key[len(head) :])]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def listify(value: Any) -> Any:
        if isinstance(value, dict):
            if value and all(k.isdigit() for k in value):
                return [listify(value[k]) for k in sorted(value, key=int)]
            return {k: listify(v) for k, v in value.items()}
        return value

    out: dict[str, Any] = listify(root)
    return out


class FakeStripe:
    def __init__(self, api_key: str = API_KEY, webhook_secret: str = WEBHOOK_SECRET) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.sessions: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}  # by session id
        self.events: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.fail_next: tuple[int, str] | None = None  # (status, message) for the next call
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids):06d}"

    # ----- the HTTP API -----
    def handle(
        self, method: str, url: str, headers: Mapping[str, str], body: str | None
    ) -> tuple[int, dict[str, Any]]:
        parsed = urllib.parse.urlsplit(url)
        pairs = urllib.parse.parse_qsl(parsed.query) + urllib.parse.parse_qsl(body or "")
        params = decode_form(pairs)
        with self._lock:
            self.requests.append((method.upper(), parsed.path, params))
            auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
            if auth != f"Bearer {self.api_key}":
                return 401, _error("invalid_request_error", "Invalid API Key provided")
            if self.fail_next is not None:
                status, message = self.fail_next
                self.fail_next = None
                return status, _error("api_error", message)
            if method.upper() == "POST" and parsed.path == "/v1/checkout/sessions":
                return 200, self._create_session(params)
            if method.upper() == "GET" and parsed.path == "/v1/events":
                return 200, self._list_events(params)
            return 404, _error("invalid_request_error", f"Unrecognized request URL {parsed.path}")

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("mode") != "payment" or not params.get("line_items"):
            return _error("invalid_request_error", "mode and line_items are required")
        item = params["line_items"][0]
        amount = int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1))
        session_id = self._id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            # Since API 2022-08-01 the intent only exists once the buyer confirms.
            "payment_intent": None,
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata", {}),
            "amount_total": amount,
            "currency": item["price_data"]["currency"],
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "created": int(time.time()),
        }
        self.sessions[session_id] = session
        return dict(session)

    def _list_events(self, params: dict[str, Any]) -> dict[str, Any]:
        types = params.get("types") or ([params["type"]] if "type" in params else None)
        gte = int(params.get("created", {}).get("gte", 0))
        limit = int(params.get("limit", 10))
        matching = [
            e
            for e in reversed(self.events)  # newest first, as Stripe lists
            if (types is None or e["type"] in types) and e["created"] >= gte
        ]
        after = params.get("starting_after")
        if after:
            ids = [e["id"] for e in matching]
            matching = matching[ids.index(after) + 1 :] if after in ids else []
        page = matching[:limit]
        return {
            "object": "list",
            "url": "/v1/events",
            "has_more": len(matching) > limit,
            "data": page,
        }

    # ----- what a buyer and Stripe do, as events -----
    def _event(self, type_: str, obj: dict[str, Any], created: int | None = None) -> dict[str, Any]:
        event = {
            "id": self._id("evt"),
            "object": "event",
            "api_version": "2025-01-01",
            "type": type_,
            "created": int(time.time()) if created is None else created,
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": json.loads(json.dumps(obj))},
        }
        with self._lock:
            self.events.append(event)
        return event

    def _intent(self, session: dict[str, Any]) -> str:
        if session["payment_intent"] is None:
            session["payment_intent"] = self._id("pi")
        intent: str = session["payment_intent"]
        return intent

    def complete(self, session_id: str, *, paid: bool = True) -> dict[str, Any]:
        """The buyer finished Checkout: paid by card, or (paid=False) by a delayed method."""
        session = self.sessions[session_id]
        self._intent(session)
        session["status"] = "complete"
        session["payment_status"] = "paid" if paid else "unpaid"
        if paid:
            self._charge(session)
        return self._event("checkout.session.completed", session)

    def async_succeeded(self, session_id: str) -> dict[str, Any]:
        session = self.sessions[session_id]
        self._intent(session)
        session["payment_status"] = "paid"
        self._charge(session)
        return self._event("checkout.session.async_payment_succeeded", session)

    def async_failed(self, session_id: str) -> dict[str, Any]:
        session = self.sessions[session_id]
        self._intent(session)
        return self._event("checkout.session.async_payment_failed", session)

    def expire(self, session_id: str) -> dict[str, Any]:
        session = self.sessions[session_id]
        session["status"] = "expired"
        return self._event("checkout.session.expired", session)

    def _charge(self, session: dict[str, Any]) -> dict[str, Any]:
        charge = self.charges.get(session["id"])
        if charge is None:
            charge = {
                "id": self._id("ch"),
                "object": "charge",
                "amount": session["amount_total"],
                "amount_refunded": 0,
                "currency": session["currency"],
                "payment_intent": self._intent(session),
                "refunded": False,
                "status": "succeeded",
            }
            self.charges[session["id"]] = charge
        return charge

    def refund(self, session_id: str, amount: int | None = None) -> dict[str, Any]:
        """Refund ``amount`` more cents (all that is left by default): ``charge.refunded``."""
        charge = self._charge(self.sessions[session_id])
        left = charge["amount"] - charge["amount_refunded"]
        charge["amount_refunded"] += left if amount is None else min(amount, left)
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        return self._event("charge.refunded", charge)

    def session_event(
        self, type_: str, session: dict[str, Any], created: int | None = None
    ) -> dict[str, Any]:
        """An arbitrary event about an arbitrary session (e.g. one the appliance never made)."""
        return self._event(type_, session, created)

    # ----- webhook deliveries -----
    def sign(self, payload: bytes, timestamp: int | None = None, secret: str | None = None) -> str:
        """``Stripe-Signature`` computed by the stripe library itself."""
        return str(
            stripe.WebhookSignature.generate_signature_header(
                payload.decode("utf-8"), secret or self.webhook_secret, timestamp
            )
        )

    def delivery(
        self, event: dict[str, Any], timestamp: int | None = None, secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a webhook POST carrying ``event``."""
        payload = json.dumps(event, indent=2).encode()  # Stripe sends pretty-printed JSON
        return payload, {
            "Stripe-Signature": self.sign(payload, timestamp, secret),
            "Content-Type": "application/json; charset=utf-8",
        }


def _error(type_: str, message: str) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message}}


class FakeStripeHTTPClient(stripe.HTTPClient):
    """The fake plugged in as the library's HTTP transport (no sockets at all)."""

    name = "fake"

    def __init__(self, fake: FakeStripe) -> None:
        super().__init__()
        self.fake = fake

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        body = post_data.decode() if isinstance(post_data, bytes) else post_data
        status, obj = self.fake.handle(method, url, headers or {}, body)
        return json.dumps(obj), status, {"Request-Id": "req_fake"}

    def close(self) -> None:
        pass


@contextlib.contextmanager
def serve(fake: FakeStripe) -> Iterator[str]:
    """Serve ``fake`` on a loopback port; yields the base URL for ``stripe_api_base``."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else None
            status, obj = fake.handle(self.command, self.path, dict(self.headers), body)
            raw = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("Request-Id", "req_fake")
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="fake-stripe", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
