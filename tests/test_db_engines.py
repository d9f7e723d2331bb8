"""The database layer on both engines: the same query functions and the same guarantees on a
real SQLite file and on a real PostgreSQL (a throwaway cluster, tests/support/postgres.py).

Each test taking ``engine_conn`` or ``engine_settings`` runs once per engine; the races run
many threads through the app's own Database (SQLite's single writer, PostgreSQL's pool where
they really run at once) and check that money moved exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance import accounts
from appliance.billing import idempotency, licenses, quota, webhook
from appliance.billing.service import begin
from appliance.bootstrap import initialize
from appliance.db.connection import Connection, IntegrityError, transaction
from appliance.db.database import open_database, open_session
from appliance.db.migrate import applied, discover, migrate
from appliance.db.postgres.connection import translate
from appliance.db.queries import billing as bq
from appliance.db.queries import filings as fq
from appliance.db.queries import jobs as jq
from appliance.db.queries import leases, meta, usage_summary
from appliance.db.queries import licenses as lq
from appliance.db.queries import payments as pq
from appliance.db.queries import rag as rq
from appliance.db.queries import sessions as sessq
from appliance.db.queries import symbols as sq
from appliance.db.queries import users as uq
from appliance.db.queries.billing import Charge
from appliance.paths import migrations_dir
from appliance.rag.reading import PassageVectors
from appliance.settings import CreditPack, Settings
from tests.support.rag import CountingEncoder

PERIOD = "2025-06"


def _user(conn: Connection, email: str = "e@x.io", credits: int = 0) -> int:
    with transaction(conn):
        return accounts.create_user(conn, email, None, credits=credits).user.id


def _threads(n: int, target: Callable[[int], None]) -> None:
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        target(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# ----- SQL written once: placeholders, rows, migrations -----


def test_placeholders_become_postgresql_numbers_outside_literals() -> None:
    assert translate("SELECT ?, ?") == "SELECT $1, $2"
    assert translate("SELECT ?3, ?1, ?") == "SELECT $3, $1, $4"  # SQLite: bare ? = largest + 1
    sql = "SELECT '?', \"a?\", x -- why?\n, ? /* ? */, 'it''s ?', ?"
    assert translate(sql) == "SELECT '?', \"a?\", x -- why?\n, $1 /* ? */, 'it''s ?', $2"


def test_rows_read_by_position_and_by_name(engine_conn: Connection) -> None:
    row = engine_conn.execute("SELECT 1 AS one, 'two' AS two").fetchone()
    assert row is not None
    assert (row[0], row["one"], row[1], row["two"]) == (1, 1, "two", "two")
    assert list(row.keys()) == ["one", "two"] and tuple(row) == (1, "two")


def test_one_migration_list_for_both_engines(engine_conn: Connection) -> None:
    names = [m.name for m in discover()]
    assert applied(engine_conn) == names
    assert migrate(engine_conn) == []
    variants = {p.stem for p in (migrations_dir() / "postgresql").glob("*.sql")}
    assert variants <= set(names), "a PostgreSQL variant without its migration in the list"


def test_postgresql_migrates_an_empty_database_and_a_failure_leaves_nothing(
    pg_cluster: Any, tmp_path: Path
) -> None:
    from appliance.db.postgres.database import PgSession

    pg_cluster.create_database("empty_migrations")
    session = PgSession(pg_cluster.url("empty_migrations"))
    try:
        assert migrate(session.conn) == [m.name for m in discover()]
        assert migrate(session.conn) == []
    finally:
        session.close()
        pg_cluster.drop_database("empty_migrations")
    mdir = tmp_path / "m"
    (mdir / "postgresql").mkdir(parents=True)
    (mdir / "0001_ok.sql").write_text("CREATE TABLE a (x INTEGER);")
    (mdir / "0002_bad.sql").write_text("-- SQLite's\nCREATE TABLE b (x INTEGER);")
    (mdir / "postgresql" / "0002_bad.sql").write_text(
        "CREATE TABLE b (x INTEGER);\nINSERT INTO nope VALUES (1);"
    )
    pg_cluster.create_database("bad_migrations")
    session = PgSession(pg_cluster.url("bad_migrations"))
    try:
        with pytest.raises(Exception, match="nope"):
            migrate(session.conn, mdir)
        assert applied(session.conn) == ["0001_ok"]
        assert session.conn.execute("SELECT to_regclass('b')").fetchone()[0] is None  # type: ignore[index]
    finally:
        session.close()
        pg_cluster.drop_database("bad_migrations")


# ----- the queries behave the same -----


def test_users_emails_are_case_insensitive(engine_conn: Connection) -> None:
    uid = _user(engine_conn, "Mixed@Case.io")
    found = uq.by_email(engine_conn, "mixed@case.IO")
    assert found is not None and found.id == uid
    with pytest.raises(IntegrityError), transaction(engine_conn):
        uq.insert_user(engine_conn, "MIXED@case.io", None)


def test_meta_payments_and_licenses_keep_first_or_highest(engine_conn: Connection) -> None:
    conn = engine_conn
    with transaction(conn):
        assert meta.put_if_absent(conn, "install_id", "a") == "a"
        assert meta.put_if_absent(conn, "install_id", "b") == "a"
    uid = _user(conn)
    with transaction(conn):
        assert pq.insert_checkout(conn, "cs_1", uid, "p", 200, 1000, "usd", None)
        assert not pq.insert_checkout(conn, "cs_1", uid, "p", 999, 1, "usd", None)
        assert pq.record_refund(conn, "pi_1", "ch_1", 1000, 400).refunded_cents == 400
        assert pq.record_refund(conn, "pi_1", "ch_1", 1000, 100).refunded_cents == 400
        assert pq.record_refund(conn, "pi_1", "ch_1", 1000, 700).refunded_cents == 700
        first = lq.insert_redemption(conn, "l1", "k", uid, 50, "2025-01-01T00:00:00Z", None)
        again = lq.insert_redemption(conn, "l1", "k", uid, 50, "2025-01-01T00:00:00Z", None)
    assert first is not None and again is None
    checkout = pq.checkout_by_id(conn, "cs_1")
    assert checkout is not None and checkout.credits == 200


def test_console_sessions_end_with_their_key_or_the_password(engine_conn: Connection) -> None:
    conn = engine_conn
    uid = _user(conn)
    with transaction(conn):
        key_id = accounts.create_key(conn, uid, "console")[1].id
        sessq.insert(conn, "h-password", "csrf-1", uid, None, "2999-01-01T00:00:00.000Z")
        sessq.insert(conn, "h-key", "csrf-2", uid, key_id, "2999-01-01T00:00:00.000Z")
        sessq.insert(conn, "h-old", "csrf-3", uid, None, "2000-01-01T00:00:00.000Z")
    now = "2025-06-01T00:00:00.000Z"
    live = sessq.live(conn, "h-key", now)
    assert live is not None and live.api_key_id == key_id and live.csrf_token == "csrf-2"
    assert sessq.live(conn, "h-old", now) is None
    with transaction(conn):
        assert sessq.purge_expired(conn, now) == 1
        assert sessq.end_for_user(conn, uid, password_only=True) == 1
    assert sessq.live(conn, "h-password", now) is None
    assert sessq.live(conn, "h-key", now) is not None
    with transaction(conn):
        accounts.revoke_key(conn, key_id)
    assert sessq.live(conn, "h-key", now) is None


def test_embedding_cache_keeps_the_first_vector(engine_conn: Connection) -> None:
    conn = engine_conn
    a, b = bytes(range(16)), bytes(range(1, 17))
    with transaction(conn):
        rq.store_embeddings(conn, [(a, b"\x01" * 384), (b, b"\x02" * 384)])
        rq.store_embeddings(conn, [(a, b"\x03" * 384)])  # a second store of a key: ignored
    assert rq.cached_embeddings(conn, [a, b, b"missing"]) == {a: b"\x01" * 384, b: b"\x02" * 384}


def test_daily_usage_counts_kept_credits_and_free_calls(engine_conn: Connection) -> None:
    conn = engine_conn
    uid = _user(conn, credits=10)
    with transaction(conn):
        spent = [quota.spend(conn, Charge(uid, "sentiment", 2, PERIOD)) for _ in range(3)]
        assert all(isinstance(s, quota.Spent) for s in spent)
        first = spent[0]
        assert isinstance(first, quota.Spent)
        assert quota.refund(conn, first.usage_id, 500, 1.0) is not None
    days = usage_summary.daily(conn, uid, "2000-01-01", "2999-01-01")
    assert len(days) == 1
    assert {k: days[0][k] for k in ("endpoint", "credits", "calls", "free_calls")} == {
        "endpoint": "sentiment",
        "credits": 4,
        "calls": 2,
        "free_calls": 1,
    }
    assert all(type(days[0][k]) is int for k in ("credits", "calls", "free_calls"))


def test_symbols_search_ignores_case(engine_conn: Connection) -> None:
    with transaction(engine_conn):
        n = sq.upsert_symbols(
            engine_conn,
            [("AAPL", 320193, "Apple Inc.", "Nasdaq", 1), ("APLE", 1418121, "Apple Hosp", None, 2)],
            "2025-01-01",
        )
        assert n == 2
        assert (
            sq.upsert_symbols(engine_conn, [("AAPL", 320193, "Apple Inc.", None, 1)], "2025-01-01")
            == 0
        )
    assert [s.ticker for s in sq.search_symbols(engine_conn, "apple")] == ["AAPL", "APLE"]
    assert [s.ticker for s in sq.search_symbols(engine_conn, "aapl")] == ["AAPL"]
    found = sq.symbol(engine_conn, "aapl")
    assert found is not None and found.exchange == "Nasdaq"  # a newer file without it keeps it


def _save_filing(conn: Connection, accession: str = "0000000001-25-000001") -> None:
    row = fq.FilingRow(
        accession, 1, "ACME", "Acme Corp", "10-K", "2025-02-01", None, "2024-12-31", None,
        None, None, "html", "digest", 100,
    )  # fmt: skip
    fq.save_filing(
        conn,
        row,
        [("1", "Business", 1, "We make anvils.", "h1"), ("1A", "Risk", 2, "Coyotes.", "h2")],
    )


def _filing(conn: Connection, accession: str = "0000000001-25-000001") -> None:
    with transaction(conn):
        _save_filing(conn, accession)


def _passages(conn: Connection, per_section: int) -> None:
    """A filing of two sections, each chunked into ``per_section`` distinct passages (call
    it in a transaction)."""
    _save_filing(conn)
    for t in rq.pending_sections(conn, "p1"):
        chunks = [
            rq.NewChunk(i, 0, 10, 5, "h", f"{t.item} passage {i}", bytes(384))
            for i in range(per_section)
        ]
        rq.store_section(conn, t.section_id, t.accession, "p1", chunks)


def test_filings_sections_chunks_vectors_and_keyword_search(engine_conn: Connection) -> None:
    conn = engine_conn
    _filing(conn)
    section = fq.section(conn, "0000000001-25-000001", "1a")
    assert section is not None and section.info.item == "1A"
    todo = rq.pending_sections(conn, "p1")
    assert {t.item for t in todo} == {"1", "1A"}
    vector = bytes(range(128)) * 3
    with transaction(conn):
        for t in todo:
            removed, new = rq.store_section(
                conn,
                t.section_id,
                t.accession,
                "p1",
                [rq.NewChunk(0, 0, 10, 5, "Acme Corp 10-K", f"{t.title}: anvils", vector)],
            )
            assert removed == [] and len(new) == 1
    assert rq.pending_sections(conn, "p1") == []
    rows = list(rq.index_rows(conn))
    assert len(rows) == 2 and all(r.embedding == vector for r in rows)
    hits = rq.keyword_search(conn, '"anvils" OR "coyote"', 5)
    assert {h for h, _ in hits} == {r.chunk_id for r in rows}
    risk = [r.chunk_id for r in rows if r.item == "1A"]
    assert [h for h, _ in rq.keyword_search(conn, '"anvils"', 5, items=["1A"])] == risk
    assert rq.keyword_search(conn, '"anvils"', 5, cutoff="2025-01-01") == []
    with transaction(conn):  # deleting the filing takes its chunks, vectors and keywords
        conn.execute("DELETE FROM filings")
    assert rq.chunk_count(conn) == 0 and list(rq.index_rows(conn)) == []
    assert rq.keyword_search(conn, '"anvils"', 5) == []


class _Session:
    """The synchronous mode over the test's connection, on either engine."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect

    def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(self.conn, *args)

    def write(self, fn: Callable[..., Any], *args: Any) -> Any:
        with transaction(self.conn):
            return fn(self.conn, *args)


def test_the_readers_passage_vectors_are_walked_stored_and_read(engine_conn: Connection) -> None:
    conn = engine_conn
    with transaction(conn):
        _passages(conn, 3)
    texts = [text for _, text in rq.chunk_texts_after(conn, 0, 100)]
    assert len(texts) == 6
    ids = [i for i, _ in rq.chunk_texts_after(conn, 0, 100)]
    assert ids == sorted(ids) and rq.chunk_texts_after(conn, ids[3], 2) == list(
        zip(ids[4:6], texts[4:6], strict=True)
    )
    encoder = CountingEncoder()
    vectors = PassageVectors(encoder, page=4)
    assert vectors.fill_all(_Session(conn)) == 6 and vectors.caught_up
    stored = vectors.stored(conn, texts)
    assert set(stored) == set(texts)
    for text, v in zip(texts, encoder.encode(texts), strict=True):
        assert float(stored[text] @ v) > 0.999  # 768 int8 bytes each, on both engines
    assert PassageVectors(encoder).fill_all(_Session(conn)) == 0


def test_a_background_lease_has_one_holder_until_given_up_or_expired(
    engine_conn: Connection,
) -> None:
    db = _Session(engine_conn)

    def take(holder: str, seconds: float = 60) -> bool:
        return bool(db.write(leases.take, "work", holder, seconds))

    assert take("replica-a", 0.2) and take("replica-a", 0.2)  # taken, then renewed
    assert not take("replica-b")  # a holds it
    time.sleep(0.4)
    assert take("replica-b")  # a stopped renewing (died): b takes over
    assert not take("replica-a")
    db.write(leases.release, "work", "replica-a")  # not a's to give up: nothing changes
    assert not take("replica-a")
    db.write(leases.release, "work", "replica-b")  # b is done: a may take it at once
    assert take("replica-a") and db.write(leases.take, "other work", "replica-b", 60)


class _SlowEncoder(CountingEncoder):
    """Reads take a while, as the real reader's do (about 35 ms a passage): replicas walking
    without the lease would both be mid-page on the same passages."""

    def encode(self, passages: Any) -> Any:
        time.sleep(0.01 * len(passages))
        return super().encode(passages)


def test_replicas_reading_ahead_together_read_each_passage_once(app_db: Any) -> None:
    app_db.sync.write(_passages, 12)
    texts = [text for _, text in app_db.sync.read(rq.chunk_texts_after, 0, 100)]
    encoders = [_SlowEncoder(), _SlowEncoder()]
    walkers = [PassageVectors(e, page=4) for e in encoders]
    waited = [0, 0]

    def replica(i: int) -> None:
        while not walkers[i].caught_up:
            if not walkers[i].fill(app_db.sync, f"replica-{i}") and walkers[i].elsewhere:
                waited[i] += 1
                time.sleep(0.02)  # the other replica reads: look again later

    _threads(2, replica)
    assert sorted(encoders[0].read + encoders[1].read) == sorted(texts)  # each passage once
    assert sum(waited) > 0  # they did meet: one waited on the other's lease
    assert set(app_db.sync.read(walkers[1].stored, texts)) == set(texts)


def test_one_live_job_per_ticker_and_claims_with_a_lease(engine_conn: Connection) -> None:
    conn = engine_conn
    with transaction(conn):
        job, created = jq.enqueue(conn, "ACME", 1, None)
        again, created_again = jq.enqueue(conn, "ACME", 1, None)
    assert created and not created_again and again.id == job.id
    with transaction(conn):
        claimed = jq.claim_next(conn, "replica-a", 0.2)
    assert claimed is not None and claimed.id == job.id and claimed.attempts == 1
    with transaction(conn):
        assert jq.claim_next(conn, "replica-b", 60) is None  # running, lease still valid
    time.sleep(0.4)
    with transaction(conn):  # the lease expired: its replica is gone, another takes the job
        reclaimed = jq.claim_next(conn, "replica-b", 60)
    assert reclaimed is not None and reclaimed.id == job.id and reclaimed.attempts == 2
    row = conn.execute("SELECT claimed_by FROM index_jobs WHERE id = ?", (job.id,)).fetchone()
    assert row is not None and row[0] == "replica-b"


# ----- races: money moves exactly once, through the app's Database -----


@pytest.fixture
def app_db(engine_settings: Settings) -> Any:
    initialize(engine_settings)
    db = open_database(engine_settings)
    db.start()
    yield db
    db.close()


def _session_user(settings: Settings, credits: int, email: str = "race@x.io") -> int:
    with open_session(settings) as s:
        uid: int = s.write(accounts.create_user, email, None, credits=credits).user.id
        s.write(lambda c: c.execute("UPDATE users SET quota_monthly = 0 WHERE id = ?", (uid,)))
    return uid


def test_a_quota_race_spends_exactly_the_balance(engine_settings: Settings, app_db: Any) -> None:
    balance, callers, each = 150, 64, 4
    uid = _session_user(engine_settings, balance)
    outcomes: list[Any] = []
    lock = threading.Lock()

    def spend(i: int) -> None:
        for n in range(each):
            got = app_db.sync.write(quota.charge, Charge(uid, "race", 1, PERIOD, f"r{i}-{n}"), 0)
            with lock:
                outcomes.append(got)

    _threads(callers, spend)
    spent = [o for o in outcomes if isinstance(o, quota.Spent)]
    assert len(spent) == balance and len(outcomes) == callers * each
    assert sorted(s.quota_before for s in spent) == list(range(1, balance + 1))
    with open_session(engine_settings) as s:
        assert s.read(bq.purchased_balance, uid) == 0
        events = s.read(lambda c: c.execute(
            "SELECT status, count(*) FROM usage_events GROUP BY status ORDER BY status"
        ).fetchall())  # fmt: skip
    assert [tuple(e) for e in events] == [
        ("charged", balance),
        ("rejected", callers * each - balance),
    ]


def test_one_idempotency_key_charges_once_under_a_race(
    engine_settings: Settings, app_db: Any
) -> None:
    uid = _session_user(engine_settings, 10)
    digest = idempotency.body_hash("race", b"{}")
    outcomes: list[Any] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        charge = Charge(uid, "race", 1, PERIOD, f"r{i}", "same-key")
        got = app_db.sync.write(begin, charge, digest, "2000-01-01T00:00:00.000Z", 0)
        with lock:
            outcomes.append(got)

    _threads(16, attempt)
    assert sum(isinstance(o, quota.Spent) for o in outcomes) == 1
    assert all(isinstance(o, quota.Spent | idempotency.KeyBusy) for o in outcomes)
    with open_session(engine_settings) as s:
        assert s.read(bq.purchased_balance, uid) == 9


def test_a_webhook_event_and_a_license_apply_once_under_a_race(
    engine_settings: Settings, app_db: Any
) -> None:
    uid = _session_user(engine_settings, 0)
    packs = {"p": CreditPack(credits=200, amount_cents=1000, currency="usd")}
    event = webhook.WebhookEvent(
        "evt_1",
        "checkout.session.completed",
        1,
        {
            "id": "cs_1",
            "object": "checkout.session",
            "payment_status": "paid",
            "client_reference_id": str(uid),
            "metadata": {"pack": "p"},
        },
    )
    results: list[str] = []
    lock = threading.Lock()

    def deliver(i: int) -> None:
        got = app_db.sync.write(webhook.apply_event, event, packs, "install")
        with lock:
            results.append(got.result)

    _threads(12, deliver)
    assert sorted(results) == ["credited"] + ["duplicate"] * 11
    lic = licenses.License("kid", "a" * 32, 300, "install", "2025-01-01T00:00:00Z", None)
    redeemed: list[int] = []

    def redeem(i: int) -> None:
        try:
            app_db.sync.write(licenses.redeem, lic, uid)
        except licenses.LicenseAlreadyRedeemed:
            return
        with lock:
            redeemed.append(i)

    _threads(12, redeem)
    assert len(redeemed) == 1
    with open_session(engine_settings) as s:
        assert s.read(bq.purchased_balance, uid) == 500
        assert len(s.read(bq.ledger_for_user, uid)) == 2


def test_each_job_is_claimed_by_one_claimer(engine_settings: Settings, app_db: Any) -> None:
    with open_session(engine_settings) as s:
        for n in range(6):
            s.write(jq.enqueue, f"T{n}", None, None)
    claims: list[int] = []
    lock = threading.Lock()

    def claim(i: int) -> None:
        while True:
            job = app_db.sync.write(jq.claim_next, f"claimer-{i}", 60)
            if job is None:
                return
            with lock:
                claims.append(job.id)

    _threads(8, claim)
    assert sorted(claims) == sorted(set(claims)) and len(claims) == 6


def test_first_spends_of_a_month_at_once_are_never_refused(
    engine_settings: Settings, app_db: Any
) -> None:
    """The first spend of a month renews the allowance. Racing first spends on PostgreSQL
    used to see another's renewal commit between their failed charge and their balance read,
    and answered 402 with plenty of credits left."""
    users = [_session_user(engine_settings, 1_000, f"m{n}@x.io") for n in range(6)]
    outcomes: list[Any] = []
    lock = threading.Lock()

    def spend(i: int) -> None:
        for month, uid in enumerate(users):
            got = app_db.sync.write(
                quota.charge, Charge(uid, "race", 1, f"2025-{month + 1:02d}", f"r{i}"), 0
            )
            with lock:
                outcomes.append(got)

    _threads(24, spend)
    assert [o for o in outcomes if not isinstance(o, quota.Spent)] == []
