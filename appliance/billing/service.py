"""The ``Billing`` service: the meter every billable request goes through. No HTTP here.

Endpoints declare themselves billable with :func:`appliance.api.billable.billable`, which
authenticates and validates first (a 401 or 400 costs nothing) and then hands the meter a
:class:`Charge` (who, what, how much, the Idempotency-Key and body) and the work.
:meth:`Billing.run` then, in order: takes a rate-limit token (429, nothing spent), handles the
``Idempotency-Key`` (replay, 422 on a different body, duplicates wait for the first), spends in
one write transaction (402 when short), runs the work, and either finishes the usage event or,
when the work raised or answered >= 400, refunds in its own transaction. An answer that is
not billable (``Answer.unbilled``: a question nobody could answer) gives its charge back
through the same give-back as a refund, and its usage event is recorded with cost 0 and the
outcome as its status. It returns the :class:`Answer` with the headers billing adds
(``X-Credits-Remaining``, ``RateLimit-*``, ``Idempotent-Replayed``); errors it raises carry
theirs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from appliance.billing import idempotency, quota, usage
from appliance.billing.errors import (
    ClientGone,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    QuotaExhausted,
    RateLimited,
    top_ups,
)
from appliance.billing.ratelimit import RateLimiter
from appliance.db.connection import Connection
from appliance.db.database import Database, self_contained
from appliance.db.queries import billing as q
from appliance.db.queries import replicas as replicas_q
from appliance.errors import ApplianceError
from appliance.metrics import Metrics
from appliance.settings import Settings

if TYPE_CHECKING:
    from appliance.billing.shared_ratelimit import SharedRateLimiter

log = logging.getLogger("appliance.billing")
T = TypeVar("T")
P = ParamSpec("P")
Begun = (
    quota.Spent | quota.Rejected | idempotency.Replay | idempotency.KeyReused | idempotency.KeyBusy
)

# The status recorded for a request whose client went away (nginx's convention).
CLIENT_CLOSED = 499


@dataclass(frozen=True)
class Charge:
    """One billable request, as the meter sees it."""

    user_id: int
    credential: str  # what the rate limit is keyed on: "key:<id>" or "user:<id>"
    endpoint: str  # the usage events' endpoint
    cost: int
    request_id: str
    idempotency_key: str | None = None  # as sent; validated by the meter
    body: bytes = b""  # the request body, digested with the key


@dataclass(frozen=True)
class Answer:
    """What the work answered: a status and the body's bytes (stored for replays).

    ``unbilled``: set on a 2xx answer that costs nothing, to the outcome its usage event
    records (one of :data:`quota.UNBILLED_STATUSES`); None for an answer that is charged.
    """

    status: int
    body: bytes
    media_type: str = "application/json"
    unbilled: str | None = None


@dataclass(frozen=True)
class Metered:
    answer: Answer
    headers: dict[str, str]


Work = Callable[[], Awaitable[Answer]]


def utc_now() -> datetime:
    return datetime.now(UTC)


def begin(
    conn: Connection, charge: q.Charge, digest: str, expires_before: str, free_monthly: int
) -> Begun:
    """Write function: the idempotency check, the spend and the key's record, in one
    transaction. A 402 records no key, so a retry after a top-up can succeed."""
    key = charge.idempotency_key
    if key is not None:
        found = idempotency.lookup(
            conn, charge.user_id, key, charge.endpoint, digest, expires_before
        )
        if found is not None:
            return found
    outcome = quota.spend(conn, charge, free_monthly)
    if key is not None and isinstance(outcome, quota.Spent):
        q.idempotency_insert(conn, charge.user_id, key, charge.endpoint, digest)
        q.idempotency_set_usage(conn, charge.user_id, key, outcome.usage_id)
    return outcome


def start_up(conn: Connection, free_monthly: int, older_than: str) -> tuple[list[int], int]:
    """Write function run once when the app starts: the free plan's allowance follows the
    setting, charges of requests a previous run never finished are refunded, and expired
    (or orphaned in-progress) idempotency records are dropped. On PostgreSQL, one replica at a
    time, and only what replicas that are gone left (see appliance/replicas.py)."""
    if conn.dialect == "postgresql":
        replicas_q.recovery_lock(conn, wait=True)
        replicas_q.prune_dead(conn)
    q.set_plan_allowance(conn, quota.FREE_PLAN, free_monthly)
    refunded = quota.refund_interrupted(conn)
    purged = q.idempotency_purge(conn, older_than, in_progress=True)
    return refunded, purged


class Billing:
    """Meters billable requests. One per app, created in the lifespan (see ``app.py``)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        metrics: Metrics,
        *,
        clock: Callable[[], datetime] = utc_now,
        shared_limiter: SharedRateLimiter | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
        # Replicas on PostgreSQL: buckets shared through the database instead.
        self.shared_limiter = shared_limiter
        self.inflight = idempotency.InFlight()
        # What a 402 offers: only the top-ups this install actually has.
        self.top_up = top_ups(
            checkout=settings.effective_payment_provider == "stripe",
            licenses=bool(settings.license_public_keys),
        )
        # Per-request costs that add up at thousands of requests/s: the labelled metric
        # children, and the allowance period (recomputed only when the month turns).
        self._children: dict[tuple[int, str], Any] = {}
        self._month: tuple[datetime, datetime, str] = (utc_now(), utc_now(), "")
        self._finish_lock = threading.Lock()
        self._finishes: list[tuple[int, float, int]] = []
        self._finish_queued = False

    def _counter(self, family: Any, endpoint: str) -> Any:
        key = (id(family), endpoint)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(endpoint)
        return child

    def _period(self) -> str:
        now = self.clock()
        start, until, period = self._month
        if not start <= now < until:
            utc = now.astimezone(UTC)
            start = datetime(utc.year, utc.month, 1, tzinfo=UTC)
            until, period = quota.next_reset(now), quota.period_of(now)
            self._month = (start, until, period)
        return period

    @property
    def enabled(self) -> bool:
        return self.settings.billing_enabled

    def _expiry(self) -> str:
        ttl = timedelta(hours=self.settings.idempotency_ttl_hours)
        return usage.timestamp(self.clock() - ttl)

    async def start(self) -> None:
        refunded, _ = await self.db.write(
            start_up, self.settings.free_monthly_credits, self._expiry()
        )
        if refunded:
            log.warning("refunded %d charges of requests interrupted by a stop", len(refunded))

    # ----- in-process API (benchmarks, other services) -----

    async def spend(
        self, user_id: int, endpoint: str, cost: int, request_id: str = ""
    ) -> quota.Spent | quota.Rejected:
        charge = q.Charge(user_id, endpoint, cost, self._period(), request_id)
        return await self.db.write(quota.charge, charge, self._free)

    async def view(self, user_id: int) -> quota.QuotaView:
        return await self.db.read(quota.view, user_id, self.clock(), self._free)

    async def settled(self) -> None:
        """Return once every write queued before the call has committed (finishes are not
        awaited by requests), so a usage listing shows all calls answered before it."""
        await self.db.write(_nothing)

    @property
    def _free(self) -> int:
        return self.settings.free_monthly_credits

    # ----- the seam -----

    async def run(self, charge: Charge, work: Work) -> Metered:
        """Meter one billable request around ``work`` (see the module docstring).

        Raises RateLimited, InvalidPayload (a malformed Idempotency-Key), IdempotencyKeyReused,
        IdempotencyInProgress, QuotaExhausted, or whatever ``work`` raised (after refunding).
        """
        if not self.enabled:
            return Metered(await work(), {})
        endpoint = charge.endpoint
        started = time.perf_counter()
        if self.shared_limiter is None:
            decision = self.limiter.take(charge.credential)
        else:
            decision = await self.shared_limiter.take(charge.credential)
        limit_headers = decision.headers() if self.limiter.enabled else {}
        if not decision.allowed:
            self._counter(self.metrics.rate_limited, endpoint).inc()
            raise RateLimited(
                f"too many billable requests for this API key: {self.limiter.rate:g}/s, bursts"
                f" of {self.limiter.burst}; retry in {decision.retry_after} s",
                headers={**limit_headers, "Retry-After": str(decision.retry_after)},
            )
        if charge.idempotency_key is None:
            return await self._metered(charge, work, None, "", started, limit_headers)
        key = idempotency.validate_key(charge.idempotency_key)
        digest = idempotency.body_hash(endpoint, charge.body)
        slot = (charge.user_id, key)
        while True:
            first = self.inflight.claim(slot)
            if first is None:
                break
            await first.wait()  # then look again: a replay, or our turn after a refund
        try:
            return await self._metered(charge, work, key, digest, started, limit_headers)
        finally:
            self.inflight.release(slot)

    async def _metered(
        self,
        charge: Charge,
        work: Work,
        key: str | None,
        digest: str,
        started: float,
        limit_headers: dict[str, str],
    ) -> Metered:
        user_id, endpoint = charge.user_id, charge.endpoint
        spend = q.Charge(user_id, endpoint, charge.cost, self._period(), charge.request_id, key)
        future: asyncio.Future[Begun]
        if key is None:
            future = self.db.write(quota.charge, spend, self._free)
        else:
            future = self.db.write(begin, spend, digest, self._expiry(), self._free)
        try:
            outcome = await asyncio.shield(future)
        except asyncio.CancelledError:
            # The client went away while the spend was queued: it may still commit, and
            # nobody would ever answer for it. Refund it as soon as it has.
            future.add_done_callback(self._refund_orphan)
            raise
        if isinstance(outcome, idempotency.Replay):
            self._counter(self.metrics.idempotent_replays, endpoint).inc()
            headers = {**limit_headers, "Idempotent-Replayed": "true"}
            if outcome.credits_remaining is not None:
                headers["X-Credits-Remaining"] = str(outcome.credits_remaining)
            return Metered(Answer(outcome.status_code, outcome.body), headers)
        if isinstance(outcome, idempotency.KeyReused):
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request body or"
                " endpoint; use a new key for a new request"
            )
        if isinstance(outcome, idempotency.KeyBusy):
            raise IdempotencyInProgress(
                "a request with this Idempotency-Key is still in progress; retry shortly",
                headers={"Retry-After": "1"},
            )
        if isinstance(outcome, quota.Rejected):
            self._counter(self.metrics.quota_exhausted, endpoint).inc()
            exc = QuotaExhausted(
                outcome.cost,
                outcome.remaining,
                in_debt=outcome.in_debt,
                top_up=self.top_up,
                allowance=self.settings.free_monthly_credits > 0,
            )
            exc.headers.update(limit_headers)
            raise exc
        spent = outcome
        self._counter(self.metrics.credits_spent, endpoint).inc(spent.cost)
        try:
            answer = await work()
        except ClientGone:
            # Nobody will read the answer (the adapter saw the client hang up and cancelled
            # the work): refund, recorded as the client's (499), then let the adapter answer.
            await self._refund(endpoint, spent, CLIENT_CLOSED, started)
            raise
        except asyncio.CancelledError:
            # Cancelled mid-work (the client is gone): queue the refund without waiting for
            # it; the writer applies it even though this task is ending.
            self.db.write_later(quota.refund, spent.usage_id, CLIENT_CLOSED, _ms(started))
            self._counter(self.metrics.credits_refunded, endpoint).inc(spent.cost)
            raise
        except BaseException as exc:
            status = exc.status if isinstance(exc, ApplianceError) else 500
            refunded = await self._refund(endpoint, spent, status, started)
            if isinstance(exc, ApplianceError):
                remaining = refunded.quota_after if refunded else spent.quota_after
                exc.headers.update({**limit_headers, "X-Credits-Remaining": str(remaining)})
            raise
        if answer.status >= 400:
            refunded = await self._refund(endpoint, spent, answer.status, started)
            remaining = refunded.quota_after if refunded else spent.quota_after
            return Metered(answer, {**limit_headers, "X-Credits-Remaining": str(remaining)})
        if answer.unbilled is not None:
            waived = await self._waive(charge, spent, answer, key, started)
            remaining = waived.quota_after if waived else spent.quota_after
            return Metered(answer, {**limit_headers, "X-Credits-Remaining": str(remaining)})
        if key is None:
            self._finish_later(spent.usage_id, answer.status, _ms(started))
        else:
            # Keyed: the stored answer must be durable before anyone is answered with it.
            stored = (user_id, key, answer.body, spent.quota_after)
            await self._write(usage.finish, spent.usage_id, answer.status, _ms(started), stored)
        return Metered(answer, {**limit_headers, "X-Credits-Remaining": str(spent.quota_after)})

    async def _waive(
        self,
        charge: Charge,
        spent: quota.Spent,
        answer: Answer,
        key: str | None,
        started: float,
    ) -> quota.Refunded | None:
        """Give an unbilled answer's charge back and record its outcome; a keyed request's
        answer is stored for replays in the same transaction (a replay is free too)."""
        assert answer.unbilled is not None
        stored = (charge.user_id, key, answer.body) if key is not None else None
        waived = await self._write(
            _settle_unbilled, spent.usage_id, answer.unbilled, answer.status, _ms(started), stored
        )
        if waived is not None:
            self._counter(self.metrics.credits_refunded, charge.endpoint).inc(waived.credits)
        self.metrics.unbilled.labels(charge.endpoint, answer.unbilled).inc()
        return waived

    def _finish_later(self, usage_id: int, status_code: int, duration_ms: float) -> None:
        """Record how a request ended without waiting for it: finishes pile up here and one
        queued write applies all of them (the writer's queue is FIFO, so each lands after its
        spend). A crash before that commit leaves the event unfinished and start-up refunds
        it: an answered call may then go free, but a charge is never kept without an answer.
        """
        with self._finish_lock:
            self._finishes.append((status_code, round(duration_ms, 3), usage_id))
            if self._finish_queued:
                return
            self._finish_queued = True
        self.db.write_later(self._apply_finishes)

    @self_contained
    def _apply_finishes(self, conn: Connection) -> None:
        """Write function, on the writer thread (one statement: atomic by itself)."""
        with self._finish_lock:
            finishes, self._finishes = self._finishes, []
            self._finish_queued = False
        q.finish_usages(conn, finishes)

    async def _refund(
        self, endpoint: str, spent: quota.Spent, status: int, started: float
    ) -> quota.Refunded | None:
        refunded = await self._write(quota.refund, spent.usage_id, status, _ms(started))
        if refunded is not None:
            self._counter(self.metrics.credits_refunded, endpoint).inc(refunded.credits)
        return refunded

    async def _write(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """A write that completes even if this request's task is cancelled meanwhile (a
        refund or a finish must not be lost because the client hung up)."""
        return await asyncio.shield(self.db.write(fn, *args, **kwargs))

    def _refund_orphan(self, future: asyncio.Future[Begun]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        outcome = future.result()
        if isinstance(outcome, quota.Spent):
            self.db.write_later(quota.refund, outcome.usage_id, CLIENT_CLOSED, None)


def _settle_unbilled(
    conn: Connection,
    usage_id: int,
    status: str,
    status_code: int,
    duration_ms: float,
    stored: tuple[int, str, bytes] | None,
) -> quota.Refunded | None:
    """Write function: :func:`quota.waive`, and with ``stored`` = (user id, Idempotency-Key,
    body) the answer kept for replays with the credits remaining after the give-back."""
    waived = quota.waive(conn, usage_id, status, status_code, duration_ms)
    if stored is not None:
        user_id, key, body = stored
        credits = waived.quota_after if waived is not None else None
        q.idempotency_complete(conn, user_id, key, status_code, body, credits)
    return waived


def _nothing(conn: Connection) -> None:
    """A write that changes nothing: an empty commit, which needs no fsync."""


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
