"""The credit ledger contract (add_credits) on real SQLite files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from appliance import accounts
from appliance.billing.errors import InsufficientCredits
from appliance.billing.ledger import LEDGER_SOURCES, add_credits
from appliance.db.connection import Connection, connect, transaction
from appliance.db.database import Database
from appliance.db.migrate import discover, migrate
from appliance.db.queries import billing as bq
from appliance.db.queries import users as uq
from appliance.errors import NotFound


@pytest.fixture
def conn(tmp_path: Path) -> Connection:
    c = connect(tmp_path / "l.db")
    migrate(c)
    return c


def _user(conn: Connection, email: str = "l@example.com", credits: int = 0) -> int:
    with transaction(conn):
        return accounts.create_user(conn, email, None, credits=credits).user.id


def _balance(conn: Connection, user_id: int) -> int:
    balance = bq.purchased_balance(conn, user_id)
    assert balance is not None
    return balance


def test_add_credits_records_once_per_source_ref(conn: Connection) -> None:
    uid = _user(conn, credits=5)
    with transaction(conn):
        entry = add_credits(conn, uid, 200, "stripe", "cs_test_1")
    assert entry is not None
    assert (entry.user_id, entry.source, entry.source_ref) == (uid, "stripe", "cs_test_1")
    assert (entry.delta, entry.balance_after) == (200, 205)
    assert entry.created_at.endswith("Z")
    with transaction(conn):
        assert add_credits(conn, uid, 200, "stripe", "cs_test_1") is None
    assert _balance(conn, uid) == 205
    # The same reference under another source is a different grant.
    with transaction(conn):
        again = add_credits(conn, uid, 3, "license", "cs_test_1")
    assert again is not None and again.balance_after == 208
    rows = bq.ledger_for_user(conn, uid)
    assert [(r.source, r.delta, r.balance_after) for r in rows] == [
        ("license", 3, 208),
        ("stripe", 200, 205),
        ("admin", 5, 5),  # the starting credits
    ]


def test_clawback_below_zero_is_refused_unless_allowed(conn: Connection) -> None:
    uid = _user(conn, credits=10)
    with pytest.raises(InsufficientCredits) as err, transaction(conn):
        add_credits(conn, uid, -11, "stripe", "refund_1")
    assert err.value.status == 409 and err.value.code == "insufficient_credits"
    assert _balance(conn, uid) == 10
    assert bq.ledger_by_ref(conn, "stripe", "refund_1") is None
    with transaction(conn):
        entry = add_credits(conn, uid, -10, "admin", "fix_1")
    assert entry is not None and entry.balance_after == 0
    with transaction(conn):
        entry = add_credits(conn, uid, -25, "stripe", "dispute_1", allow_negative=True)
    assert entry is not None and entry.balance_after == -25
    assert _balance(conn, uid) == -25
    user = uq.by_id(conn, uid)
    assert user is not None and user.quota_remaining == -25


def test_bad_arguments(conn: Connection) -> None:
    uid = _user(conn)
    assert set(LEDGER_SOURCES) == {"monthly", "stripe", "license", "admin", "refund"}
    with pytest.raises(NotFound), transaction(conn):
        add_credits(conn, uid + 100, 5, "admin", "x")
    for source, ref, delta in [("paypal", "x", 1), ("admin", "", 1), ("admin", "y", 0)]:
        with pytest.raises(ValueError), transaction(conn):
            add_credits(conn, uid, delta, source, ref)
    assert bq.ledger_for_user(conn, uid) == []


def test_exactly_once_through_the_writer_under_concurrency(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    conn = connect(path)
    migrate(conn)
    uid = _user(conn)
    db = Database(path)
    db.start()
    applied: list[int] = []
    lock = threading.Lock()

    def deliver(event: int) -> None:
        # Every event is delivered by 8 threads at once (webhook retries racing each other).
        entry = db.write_sync(add_credits, uid, 100, "stripe", f"evt_{event}")
        if entry is not None:
            with lock:
                applied.append(entry.balance_after)

    threads = [threading.Thread(target=deliver, args=(e,)) for e in range(10) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.close()
    assert sorted(applied) == [100 * i for i in range(1, 11)]
    assert _balance(conn, uid) == 1000
    assert len(bq.ledger_for_user(conn, uid)) == 10


def test_billing_migration_keeps_users_and_keys(tmp_path: Path) -> None:
    spine_only = tmp_path / "spine"
    spine_only.mkdir()
    first = discover()[0]
    (spine_only / f"{first.name}.sql").write_text(first.sql)
    conn = connect(tmp_path / "m.db")
    migrate(conn, spine_only)
    with transaction(conn):
        # Rows as the 0001 schema had them (today's queries read columns added later).
        user_id = conn.execute(
            "INSERT INTO users (email, quota_remaining) VALUES ('old@example.com', 7) RETURNING id"
        ).fetchone()[0]
        key_id = conn.execute(
            "INSERT INTO api_keys (user_id, prefix, key_hash) VALUES (?, 'p', 'h') RETURNING id",
            (user_id,),
        ).fetchone()[0]
    assert "0002_billing" in migrate(conn)
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    user = uq.by_email(conn, "old@example.com")
    assert user is not None and user.quota_remaining == 7
    assert [k.id for k in uq.list_keys(conn, user.id)] == [key_id]
    # The keys still reference users: deleting the user cascades.
    with transaction(conn):
        conn.execute("DELETE FROM users WHERE id = ?", (user.id,))
    assert conn.execute("SELECT count(*) FROM api_keys").fetchone()[0] == 0
