"""The app's own Prometheus registry (never the global one, so two apps never share series)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "appliance_http_requests_total",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "appliance_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.webhook_events = Counter(
            "appliance_stripe_webhook_events_total",
            "Stripe events received (webhook or reconcile) by type and result.",
            ["type", "result"],
            registry=self.registry,
        )
        self.license_redemptions = Counter(
            "appliance_license_redemptions_total",
            "Offline license redemption attempts by result (redeemed or the error code).",
            ["result"],
            registry=self.registry,
        )

        # Billing (appliance/billing/service.py).
        self.credits_spent = Counter(
            "appliance_credits_spent_total",
            "Credits charged by billable endpoint (refunds are counted separately).",
            ["endpoint"],
            registry=self.registry,
        )
        self.credits_refunded = Counter(
            "appliance_credits_refunded_total",
            "Credits given back, by endpoint: failed billable requests, and answers that are"
            " not billable (see appliance_unbilled_requests_total).",
            ["endpoint"],
            registry=self.registry,
        )
        self.unbilled = Counter(
            "appliance_unbilled_requests_total",
            "Billable requests answered free by outcome (no_answer, not_indexed), by endpoint.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.quota_exhausted = Counter(
            "appliance_quota_exhausted_total",
            "Billable requests refused with 402 quota_exhausted, by endpoint.",
            ["endpoint"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "appliance_rate_limited_total",
            "Billable requests refused with 429 rate_limited, by endpoint.",
            ["endpoint"],
            registry=self.registry,
        )
        self.idempotent_replays = Counter(
            "appliance_idempotent_replays_total",
            "Billable requests answered from a stored Idempotency-Key response, by endpoint.",
            ["endpoint"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
