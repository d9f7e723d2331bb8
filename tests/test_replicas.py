"""What replicas share beyond the tables, on a real PostgreSQL: the rate limit, recovery after
a replica dies, the chunk change feed, and the settings replicas need."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from appliance import accounts
from appliance.billing import quota
from appliance.billing.shared_ratelimit import SharedRateLimiter
from appliance.bootstrap import initialize
from appliance.db.connection import Connection
from appliance.db.database import open_session
from appliance.db.postgres.database import PgDatabase
from appliance.db.queries import billing as bq
from appliance.db.queries import jobs as jq
from appliance.db.queries import rag as rq
from appliance.db.queries.billing import Charge
from appliance.rag.feed import ChunkFeed
from appliance.replicas import NeedsSharedSecret, Presence, check_settings, recover
from appliance.settings import Settings, load_settings
from tests.support.postgres import PG_TOKEN_SECRET


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Any) -> Settings:
    settings = load_settings(
        data_dir=tmp_path / "data",
        database_url=pg_url,
        token_secret=PG_TOKEN_SECRET,
        load_models=False,
        access_log=False,
    )
    initialize(settings)
    return settings


def test_the_rate_limit_holds_across_replicas(pg_url: str) -> None:
    """Two replicas' limiters on one key: together they admit what one bucket allows (burst
    plus rate per second), not twice that as two per-process buckets would."""
    rate, burst, seconds = 10.0, 5, 1.5
    replicas = [SharedRateLimiter(pg_url, rate, burst) for _ in range(2)]
    for limiter in replicas:
        limiter.start()
    allowed = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def hammer(i: int) -> None:
        import asyncio

        async def loop() -> None:
            while time.monotonic() < stop:
                decision = await replicas[i % 2].take("apk_shared")
                if decision.allowed:
                    with lock:
                        allowed[0] += 1

        asyncio.run(loop())

    started = time.monotonic()
    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    for limiter in replicas:
        limiter.close()
    one_bucket = burst + rate * elapsed
    assert one_bucket - rate <= allowed[0] <= one_bucket + rate  # within one second's tokens
    assert allowed[0] < 2 * burst + 2 * rate * (elapsed - 0.5)  # not a bucket per replica


def _charge(db: PgDatabase, uid: int, request_id: str) -> quota.Spent:
    spent = db.sync.write(quota.charge, Charge(uid, "qa", 1, "2025-06", request_id), 0)
    assert isinstance(spent, quota.Spent)
    return spent


def test_recovery_refunds_only_what_dead_replicas_left(pg_settings: Settings) -> None:
    with open_session(pg_settings) as s:
        uid = s.write(accounts.create_user, "r@x.io", None, credits=10).user.id
    dbs = [PgDatabase(pg_settings) for _ in range(2)]
    presences = [Presence(pg_settings.database_url or "", db.replica_id) for db in dbs]
    try:
        for db, presence in zip(dbs, presences, strict=True):
            db.start()
            presence.start()
        # Each replica has a request in flight: charged, not finished.
        lost = _charge(dbs[0], uid, "on-a")
        live = _charge(dbs[1], uid, "on-b")
        with open_session(pg_settings) as s:
            s.write(jq.enqueue, "ACME", None, None)
        assert dbs[0].sync.write(jq.claim_next, dbs[0].replica_id, 600) is not None
        # Nobody is dead yet: recovery changes nothing.
        assert dbs[1].sync.write(recover, wait=True) == recover_result([], [], 0)
        presences[0]._raw.close()  # replica A dies (its lock goes with its connection)
        # The server drops the lock when its backend notices the closed connection, which
        # takes a moment on a loaded machine; recovery sweeps periodically, so poll as it does.
        deadline = time.monotonic() + 15
        while True:
            done = dbs[1].sync.write(recover, wait=True)
            assert done is not None
            if done.dead or time.monotonic() > deadline:
                break
            assert done == recover_result([], [], 0)  # a sweep before it notices does nothing
            time.sleep(0.05)
        assert done.dead == [dbs[0].replica_id] and done.refunded == [lost.usage_id]
        assert done.requeued == 1
        with open_session(pg_settings) as s:
            statuses = dict(
                s.read(lambda c: c.execute("SELECT id, status FROM usage_events").fetchall())
            )
            assert statuses == {lost.usage_id: "refunded", live.usage_id: "charged"}
            assert s.read(bq.purchased_balance, uid) == 9
        # A second sweep finds nothing more to do.
        assert dbs[1].sync.write(recover, wait=True) == recover_result([], [], 0)
    finally:
        presences[1].stop()
        for db in dbs:
            db.close()


def recover_result(dead: list[str], refunded: list[int], requeued: int) -> Any:
    from appliance.replicas import Recovered

    return Recovered(dead, refunded, requeued)


def test_the_chunk_feed_delivers_committed_changes(pg_settings: Settings) -> None:
    url = pg_settings.database_url or ""
    changes: list[tuple[list[int], list[int]]] = []
    resyncs: list[int] = []
    arrived = threading.Event()

    def apply(removed: list[int], new: list[int]) -> None:
        changes.append((removed, new))
        arrived.set()

    def resync() -> None:
        resyncs.append(1)
        arrived.set()

    feed = ChunkFeed(url, apply, resync)
    feed.start()
    try:
        assert feed.listening.wait(10)
        with open_session(pg_settings) as s:

            def rolled_back(conn: Connection) -> None:
                rq.announce_chunks(conn, [1], [2])
                raise RuntimeError("not committed")

            with pytest.raises(RuntimeError):
                s.write(rolled_back)
            s.write(rq.announce_chunks, [7, 8], [9])
        assert arrived.wait(10)
        assert changes == [([7, 8], [9])]  # the rolled-back announcement never arrived
        arrived.clear()
        with open_session(pg_settings) as s:
            s.write(rq.announce_chunks, [], list(range(10_000)))  # too big: "sync"
        assert arrived.wait(10) and resyncs == [1]
    finally:
        feed.stop()


def test_replicas_need_one_token_secret(tmp_path: Any) -> None:
    settings = load_settings(data_dir=tmp_path, database_url="postgresql://u@localhost/db")
    with pytest.raises(NeedsSharedSecret, match="token_secret"):
        check_settings(settings)
    check_settings(settings.model_copy(update={"token_secret": PG_TOKEN_SECRET}))
    check_settings(load_settings(data_dir=tmp_path))  # SQLite: the file in the data dir
