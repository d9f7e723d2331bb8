"""Spends, refunds and the monthly allowance on a real SQLite file (quota.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance import accounts
from appliance.billing import quota
from appliance.billing.ledger import add_credits
from appliance.db.connection import Connection, connect, transaction
from appliance.db.migrate import migrate
from appliance.db.queries import billing as q
from appliance.errors import NotFound

JUNE = "2025-06"
JULY = "2025-07"


@pytest.fixture
def conn(tmp_path: Path) -> Connection:
    c = connect(tmp_path / "q.db")
    migrate(c)
    return c


def _user(conn: Connection, credits: int = 0, monthly: int = 10, email: str = "q@x.io") -> int:
    with transaction(conn):
        uid = accounts.create_user(conn, email, None, credits=credits).user.id
        conn.execute("UPDATE users SET quota_monthly = ? WHERE id = ?", (monthly, uid))
    return uid


def _spend(
    conn: Connection, uid: int, cost: int, period: str = JUNE
) -> quota.Spent | quota.Rejected:
    with transaction(conn):
        return quota.spend(conn, uid, "sentiment", cost, "req", None, period)


def _balances(conn: Connection, uid: int) -> tuple[int, int]:
    b = q.balances(conn, uid)
    assert b is not None
    return b.allowance_remaining, b.purchased


def test_allowance_is_spent_first_then_purchased(conn: Connection) -> None:
    uid = _user(conn, credits=5, monthly=3)
    first = _spend(conn, uid, 2)
    assert isinstance(first, quota.Spent)
    assert (first.from_allowance, first.quota_before, first.quota_after) == (2, 8, 6)
    assert _balances(conn, uid) == (1, 5)
    second = _spend(conn, uid, 3)  # 1 from the allowance, 2 purchased
    assert isinstance(second, quota.Spent)
    assert (second.from_allowance, second.quota_before, second.quota_after) == (1, 6, 3)
    assert _balances(conn, uid) == (0, 3)
    # The renewal is in the ledger once for the month, in the allowance pool.
    rows = q.ledger_for_user(conn, uid)
    assert [(r.source, r.source_ref, r.pool, r.delta) for r in rows] == [
        ("monthly", f"{JUNE}:user:{uid}", "allowance", 3),
        ("admin", f"user:{uid}:created", "purchased", 5),  # the starting credits
    ]
    events = list(q.iter_usage(conn, user_id=uid))
    assert [(e["status"], e["cost"], e["from_allowance"]) for e in events] == [
        ("charged", 2, 2),
        ("charged", 3, 1),
    ]


def test_allowance_renews_monthly_without_touching_purchased(conn: Connection) -> None:
    uid = _user(conn, credits=4, monthly=10)
    assert isinstance(_spend(conn, uid, 7, JUNE), quota.Spent)
    assert _balances(conn, uid) == (3, 4)
    # July: the allowance is reset to 10 (the 3 left in June do not carry over).
    spent = _spend(conn, uid, 1, JULY)
    assert isinstance(spent, quota.Spent) and spent.quota_before == 14
    assert _balances(conn, uid) == (9, 4)
    refs = {r.source_ref for r in q.ledger_for_user(conn, uid) if r.source == "monthly"}
    assert refs == {f"{JUNE}:user:{uid}", f"{JULY}:user:{uid}"}


def test_short_balance_is_rejected_and_takes_nothing(conn: Connection) -> None:
    uid = _user(conn, credits=1, monthly=2)
    rejected = _spend(conn, uid, 4)
    assert isinstance(rejected, quota.Rejected)
    assert (rejected.cost, rejected.remaining, rejected.in_debt) == (4, 3, False)
    assert _balances(conn, uid) == (2, 1)
    assert isinstance(_spend(conn, uid, 3), quota.Spent)
    assert _balances(conn, uid) == (0, 0)
    assert isinstance(_spend(conn, uid, 1), quota.Rejected)
    events = list(q.iter_usage(conn, user_id=uid))
    assert [
        (e["status"], e["status_code"], e["quota_before"], e["quota_after"]) for e in events
    ] == [
        ("rejected", 402, 3, 3),
        ("charged", None, 3, 0),
        ("rejected", 402, 0, 0),
    ]
    with pytest.raises(NotFound), transaction(conn):
        quota.spend(conn, uid + 1, "qa", 1, "r", None, JUNE)


def test_negative_purchased_balance_blocks_every_spend(conn: Connection) -> None:
    uid = _user(conn, credits=0, monthly=10)
    with transaction(conn):
        add_credits(conn, uid, -5, "stripe", "dispute_1", allow_negative=True)
    rejected = _spend(conn, uid, 1)
    assert isinstance(rejected, quota.Rejected) and rejected.in_debt and rejected.remaining == 0
    view = quota.view(conn, uid, datetime(2025, 6, 15, tzinfo=UTC))
    assert (view.remaining, view.allowance_remaining, view.purchased) == (0, 10, -5)
    with transaction(conn):
        add_credits(conn, uid, 5, "admin", "settle")
    assert isinstance(_spend(conn, uid, 1), quota.Spent)


def test_refund_gives_back_each_part_once(conn: Connection) -> None:
    uid = _user(conn, credits=10, monthly=2)
    spent = _spend(conn, uid, 5)  # 2 allowance + 3 purchased
    assert isinstance(spent, quota.Spent)
    assert _balances(conn, uid) == (0, 7)
    with transaction(conn):
        refunded = quota.refund(conn, spent.usage_id, 500, 12.5)
    assert refunded is not None
    assert (refunded.credits, refunded.allowance_returned, refunded.quota_after) == (5, 2, 12)
    assert _balances(conn, uid) == (2, 10)
    with transaction(conn):
        assert quota.refund(conn, spent.usage_id, 500, 12.5) is None
    assert _balances(conn, uid) == (2, 10)
    (event,) = q.iter_usage(conn, user_id=uid)
    assert (event["status"], event["status_code"], event["duration_ms"]) == ("refunded", 500, 12.5)
    refunds = [
        (r.source_ref, r.pool, r.delta, r.balance_after)
        for r in q.ledger_for_user(conn, uid)
        if r.source == "refund"
    ]
    assert sorted(refunds) == [
        (f"usage:{spent.usage_id}:allowance", "allowance", 2, 2),
        (f"usage:{spent.usage_id}:purchased", "purchased", 3, 10),
    ]


def test_refund_after_the_month_turned_returns_only_purchased(conn: Connection) -> None:
    uid = _user(conn, credits=10, monthly=2)
    spent = _spend(conn, uid, 3, JUNE)
    assert isinstance(spent, quota.Spent)
    assert isinstance(_spend(conn, uid, 1, JULY), quota.Spent)  # July's allowance: 2 -> 1
    with transaction(conn):
        refunded = quota.refund(conn, spent.usage_id, 503, None)
    assert refunded is not None and refunded.allowance_returned == 0 and refunded.credits == 1
    assert _balances(conn, uid) == (1, 10)


def test_view_and_reset_time(conn: Connection) -> None:
    uid = _user(conn, credits=7, monthly=10)
    now = datetime(2025, 12, 31, 23, 59, tzinfo=UTC)
    view = quota.view(conn, uid, now)
    assert view.public() == {
        "remaining": 17,
        "allowance_remaining": 10,
        "monthly_allowance": 10,
        "purchased": 7,
        "plan": "free",
        "resets_at": "2026-01-01T00:00:00Z",
    }
    assert isinstance(_spend(conn, uid, 4, "2025-12"), quota.Spent)
    assert quota.view(conn, uid, now).remaining == 13
    assert quota.view(conn, uid, datetime(2026, 1, 1, tzinfo=UTC)).remaining == 17
    with pytest.raises(NotFound):
        quota.view(conn, uid + 9, now)


def test_interrupted_requests_are_refunded(conn: Connection) -> None:
    uid = _user(conn, credits=3, monthly=0)
    done = _spend(conn, uid, 1)
    lost = _spend(conn, uid, 2)
    assert isinstance(done, quota.Spent) and isinstance(lost, quota.Spent)
    with transaction(conn):
        q.finish_usage(conn, done.usage_id, 200, 3.0)
        assert quota.refund_interrupted(conn) == [lost.usage_id]
    assert _balances(conn, uid) == (0, 2)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["spend", "refund", "grant", "month"]), st.integers(0, 6)),
        max_size=40,
    )
)
def test_balances_follow_a_simple_model(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int]]
) -> None:
    conn = connect(tmp_path_factory.mktemp("h") / "h.db")
    migrate(conn)
    uid = _user(conn, credits=3, monthly=4)
    months = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05"]
    month = 0
    allowance, purchased, period = 0, 3, None
    charged: list[
        tuple[int, int, int, str]
    ] = []  # usage id, from allowance, from purchased, period
    for i, (op, n) in enumerate(ops):
        now = months[month]
        if op == "month":
            month = min(month + 1, len(months) - 1)
        elif op == "grant" and n:
            with transaction(conn):
                add_credits(conn, uid, n, "admin", f"g{i}")
            purchased += n
        elif op == "spend":
            if period != now:
                allowance, period = 4, now
            result = _spend(conn, uid, n, now)
            if allowance + purchased >= n:
                assert isinstance(result, quota.Spent)
                a = min(n, allowance)
                allowance, purchased = allowance - a, purchased - (n - a)
                charged.append((result.usage_id, a, n - a, now))
            else:
                assert isinstance(result, quota.Rejected)
        elif op == "refund" and charged:
            usage_id, a, p, spent_in = charged.pop(n % len(charged))
            with transaction(conn):
                quota.refund(conn, usage_id, 500, None)
            purchased += p
            if spent_in == period:
                allowance += a
        assert _balances(conn, uid) == (allowance, purchased)
        assert allowance >= 0 and purchased >= 0
    conn.close()


def test_a_charge_is_its_debit_and_can_never_overdraw(conn: Connection) -> None:
    uid = _user(conn, credits=2, monthly=1)
    with transaction(conn):
        quota.renew(conn, uid, JUNE)
    insert = (
        "INSERT INTO usage_events (user_id, endpoint, request_id, cost, from_allowance,"
        " allowance_period, quota_before, quota_after, status) VALUES (?, 'x', 'r', ?, ?, ?,"
        " 0, 0, 'charged')"
    )
    with transaction(conn):  # the trigger applies the event's debit
        conn.execute(insert, (uid, 2, 1, JUNE))
    assert _balances(conn, uid) == (0, 1)
    # Whatever code inserts it, a charge that would overdraw is refused by the database.
    with pytest.raises(Exception, match="below zero"), transaction(conn):
        conn.execute(insert, (uid, 2, 0, JUNE))
    assert _balances(conn, uid) == (0, 1)
    assert len(list(q.iter_usage(conn, user_id=uid))) == 1


def test_fast_charge_renews_a_zero_allowance_and_spends_purchased(conn: Connection) -> None:
    uid = _user(conn, credits=3, monthly=0)
    for period, expected in [(JUNE, 2), (JULY, 1)]:
        with transaction(conn):
            spent = quota.charge(conn, uid, "qa", 1, "r", period)
        assert isinstance(spent, quota.Spent) and spent.quota_after == expected
    with transaction(conn):
        assert isinstance(quota.charge(conn, uid, "qa", 2, "r", JULY), quota.Rejected)
        assert isinstance(quota.charge(conn, uid, "qa", 1, "r", JULY), quota.Spent)
    assert _balances(conn, uid) == (0, 0)
    with pytest.raises(NotFound), transaction(conn):
        quota.charge(conn, uid + 5, "qa", 1, "r", JULY)
