"""The connection factory, migrations and the group-commit writer on real files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from appliance.db.connection import connect, transaction
from appliance.db.migrate import applied, discover, migrate, pending
from appliance.db.sqlite import SqliteDatabase


def test_sqlite_vec_is_loaded_and_pragmas_set(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.db")
    assert conn.execute("SELECT vec_version()").fetchone()[0].startswith("v")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    conn.execute("CREATE VIRTUAL TABLE v USING vec0(e float[2])")
    conn.execute("INSERT INTO v(rowid, e) VALUES (1, '[1, 0]'), (2, '[0, 1]')")
    row = conn.execute("SELECT rowid FROM v WHERE e MATCH '[0.9, 0.1]' AND k = 1").fetchone()
    assert row[0] == 1


def test_migrations_from_empty_and_rerun(tmp_path: Path) -> None:
    conn = connect(tmp_path / "m.db")
    names = [m.name for m in discover()]
    assert names[0] == "0001_spine"
    assert migrate(conn) == names
    assert migrate(conn) == []
    assert pending(conn) == []
    assert applied(conn) == names
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "api_keys", "meta", "schema_migrations"} <= tables


def test_failed_migration_leaves_nothing(tmp_path: Path) -> None:
    mdir = tmp_path / "migrations"
    mdir.mkdir()
    (mdir / "0001_ok.sql").write_text("CREATE TABLE a (x INTEGER);")
    (mdir / "0002_bad.sql").write_text("CREATE TABLE b (x INTEGER);\nINSERT INTO nope VALUES (1);")
    conn = connect(tmp_path / "f.db")
    with pytest.raises(Exception, match="nope"):
        migrate(conn, mdir)
    assert applied(conn) == ["0001_ok"]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "a" in tables and "b" not in tables


def _bump(conn, n: int) -> int:  # type: ignore[no-untyped-def]
    conn.execute("UPDATE counter SET value = value + ? WHERE id = 1", (n,))
    return int(conn.execute("SELECT value FROM counter WHERE id = 1").fetchone()[0])


def _fail(conn) -> None:  # type: ignore[no-untyped-def]
    conn.execute("UPDATE counter SET value = value + 1000000 WHERE id = 1")
    raise ValueError("rejected")


def test_writer_group_commit_is_exact_under_concurrency(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    conn = connect(path)
    with transaction(conn):
        conn.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER)")
        conn.execute("INSERT INTO counter VALUES (1, 0)")
    db = SqliteDatabase(path)
    db.start()
    results: list[int] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def worker() -> None:
        for i in range(200):
            if i % 50 == 0:
                try:
                    db.sync.write(_fail)
                except ValueError as exc:
                    with lock:
                        errors.append(exc)
            value = db.sync.write(_bump, 1)
            with lock:
                results.append(value)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Each write saw a distinct running total, failed writes left no trace.
    assert sorted(results) == list(range(1, 16 * 200 + 1))
    assert len(errors) == 16 * 4
    assert db.sync.read(lambda c: c.execute("SELECT value FROM counter").fetchone()[0]) == 3200
    db.close()
    assert connect(path).execute("SELECT value FROM counter").fetchone()[0] == 3200


def test_writer_survives_a_caller_that_gave_up(tmp_path: Path) -> None:
    """A cancelled awaiting caller used to make set_result raise in the writer thread, which
    then died and hung every later write."""
    import asyncio
    import time

    path = tmp_path / "c.db"
    conn = connect(path)
    conn.execute("CREATE TABLE t (x INTEGER)")
    db = SqliteDatabase(path)
    db.start()

    def slow(c) -> None:  # type: ignore[no-untyped-def]
        time.sleep(0.2)
        c.execute("INSERT INTO t VALUES (1)")

    def insert(c, x: int) -> int:  # type: ignore[no-untyped-def]
        c.execute("INSERT INTO t VALUES (?)", (x,))
        return x

    async def scenario() -> int:
        blocker = db.submit(slow)
        await asyncio.sleep(0.05)  # the writer is busy with `slow`
        queued = asyncio.ensure_future(db.write(insert, 2))
        await asyncio.sleep(0.01)
        from_thread = asyncio.wrap_future(db.submit(insert, 4))  # a thread-style future
        await asyncio.sleep(0.01)
        queued.cancel()
        from_thread.cancel()
        await asyncio.wrap_future(blocker)
        return await asyncio.wait_for(db.write(insert, 3), timeout=5)

    assert asyncio.run(scenario()) == 3
    db.close()
    # The cancelled writes had not started, so they were skipped; the others committed.
    assert [r[0] for r in conn.execute("SELECT x FROM t ORDER BY x")] == [1, 3]


def test_self_contained_writes_skip_the_savepoint_but_stay_atomic(tmp_path: Path) -> None:
    from appliance.db.database import self_contained

    path = tmp_path / "s.db"
    conn = connect(path)
    conn.execute("CREATE TABLE t (x INTEGER CHECK (x < 100))")
    db = SqliteDatabase(path)
    db.start()
    seen: list[bool] = []

    @self_contained
    def one_statement(c, x: int) -> None:  # type: ignore[no-untyped-def]
        seen.append(c.in_transaction)
        c.execute("INSERT INTO t SELECT ? UNION ALL SELECT ? + 1", (x, x))

    futures = [db.submit(one_statement, x) for x in (1, 99, 10)]  # 99 + 1 breaks the CHECK
    outcomes = [f.exception() is None for f in futures]
    db.close()
    assert outcomes == [True, False, True] and all(seen)
    # The failed statement left nothing behind, without a savepoint of its own.
    assert [r[0] for r in conn.execute("SELECT x FROM t ORDER BY x")] == [1, 2, 10, 11]


def test_a_transaction_sqlite_rolled_back_fails_its_batch_and_the_writer_goes_on(
    tmp_path: Path,
) -> None:
    """SQLite can end the whole transaction itself (disk full, I/O error); ``ROLLBACK TO w``
    then raised "no such savepoint", escaped the batch and killed the writer thread."""
    path = tmp_path / "r.db"
    conn = connect(path)
    conn.execute("CREATE TABLE t (x INTEGER)")
    db = SqliteDatabase(path)
    db.start()
    gate, started = threading.Event(), threading.Event()

    def wait(c) -> None:  # type: ignore[no-untyped-def]
        started.set()
        gate.wait(5)

    def insert(c, x: int) -> int:  # type: ignore[no-untyped-def]
        c.execute("INSERT INTO t VALUES (?)", (x,))
        return x

    def rolls_back(c, fail: bool) -> None:  # type: ignore[no-untyped-def]
        c.execute("INSERT INTO t VALUES (100)")
        c.execute("ROLLBACK")  # what SQLite does on its own after SQLITE_FULL / SQLITE_IOERR
        if fail:
            raise OSError("disk full")

    try:
        for fail in (True, False):
            blocker = db.submit(wait)  # holds the writer so the next three share a batch
            assert started.wait(5)
            started.clear()
            futures = [db.submit(insert, 1), db.submit(rolls_back, fail), db.submit(insert, 2)]
            gate.set()
            blocker.result(timeout=5)
            gate.clear()
            errors = [f.exception(timeout=5) for f in futures]
            assert all(e is not None for e in errors), errors
            assert isinstance(errors[1], OSError) if fail else "rolled back" in str(errors[1])
            assert "rolled back" in str(errors[0]) and "rolled back" in str(errors[2])
            # Nothing of that batch is stored, and the writer still works.
            assert db.sync.write(insert, 3) == 3
        assert [r[0] for r in conn.execute("SELECT x FROM t ORDER BY x")] == [3, 3]
    finally:
        gate.set()
        db.close()


def test_a_dead_writer_is_reported_not_waited_on(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from appliance.app import create_app
    from appliance.bootstrap import initialize
    from appliance.settings import load_settings

    settings = load_settings(data_dir=tmp_path / "d", load_models=False, access_log=False)
    admin = initialize(settings).admin_api_key
    assert admin
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        db = app.state.ctx.db

        def die(conn, batch) -> None:  # type: ignore[no-untyped-def]
            raise SystemExit("injected: the writer thread ends")

        db._apply = die
        headers = {"Authorization": f"Bearer {admin}"}
        r = client.post("/v1/users", json={"email": "a@b.io"}, headers=headers)
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
        db._writer.join(5)
        assert not db.writer_alive
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["components"]["database"]["ready"] is False
        assert "writer" in ready.json()["components"]["database"]["detail"]
        with pytest.raises(RuntimeError, match="writer stopped"):
            db.submit(lambda conn: None)
        r = client.post("/v1/users", json={"email": "c@d.io"}, headers=headers)
        assert r.status_code == 500


def test_long_reads_never_hold_up_short_reads(tmp_path: Path) -> None:
    import asyncio

    # The file exists in WAL mode first, as a served database always does (initialize):
    # two readers opening a new file at once race to switch it to WAL, which is not what
    # this test is about (a reader that lost that race broke the barrier once).
    connect(tmp_path / "l.db").close()
    db = SqliteDatabase(tmp_path / "l.db", readers=1, long_readers=2)
    release = threading.Event()
    started = threading.Barrier(3)

    def long_read(conn) -> int:  # type: ignore[no-untyped-def]
        started.wait(timeout=10)
        release.wait(timeout=10)
        return int(conn.execute("SELECT 1").fetchone()[0])

    def short_read(conn) -> int:  # type: ignore[no-untyped-def]
        return int(conn.execute("SELECT 2").fetchone()[0])

    async def scenario() -> None:
        longs = [asyncio.ensure_future(db.read_long(long_read)) for _ in range(2)]
        await asyncio.to_thread(started.wait, 10)  # both long-read threads are busy now
        # The short read completes while every long-read thread is still blocked.
        assert await asyncio.wait_for(db.read(short_read), timeout=5) == 2
        assert not any(t.done() for t in longs)
        release.set()
        assert await asyncio.gather(*longs) == [1, 1]

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        db.close()
