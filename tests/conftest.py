"""Fixtures: a real app over a real SQLite file in tmp_path, with its lifespan running; and
a real PostgreSQL (tests/support/postgres.py) for the tests that run on both engines."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from appliance.app import create_app
from appliance.bootstrap import initialize
from appliance.settings import Settings, load_settings
from tests.helpers import assert_books_balance

# Starlette's TestClient sends `Host: testserver`, which the Host rule (DNS rebinding)
# refuses like any unlisted name; live servers are spoken to on 127.0.0.1.
_TEST_CLIENT_HOSTS = ("APPLIANCE_ALLOWED_HOSTS", '["testserver"]')


@pytest.fixture(autouse=True, scope="session")
def _test_client_host() -> Iterator[None]:
    """For module- and session-scoped apps too, which are made before _clean_env runs."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(*_TEST_CLIENT_HOSTS)
        yield


# Every log line of the run is checked for secrets at the end (tests/support/log_audit.py).
pytest_plugins = ["tests.support.log_audit"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests never read the developer's environment or config file by accident.
    import os

    for key in list(os.environ):
        if key.startswith("APPLIANCE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv(*_TEST_CLIENT_HOSTS)


@pytest.fixture(autouse=True)
def _books_balance(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test, every appliance database it left under its tmp_path passes
    `appliance db check`: the books balance (balance = ledger - usage, per user), the index is
    whole. Tests that damage a database on purpose are marked
    ``no_db_check``."""
    yield
    tmp = request.node.funcargs.get("tmp_path")
    if tmp is None or request.node.get_closest_marker("no_db_check"):
        return
    for db_path in sorted(Path(tmp).rglob("appliance.sqlite3")):
        assert_books_balance(db_path)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", load_models=False, access_log=False)


@pytest.fixture
def admin_key(settings: Settings) -> str:
    result = initialize(settings)
    assert result.admin_api_key
    return result.admin_api_key


@pytest.fixture
def client(settings: Settings, admin_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="session")
def embedder() -> Any:
    """The real int8 MiniLM embedder (built by ``make models``)."""
    from appliance.nlp.embedder import Embedder
    from appliance.nlp.paths import ModelPaths

    return Embedder(ModelPaths.locate().embedder, threads=2)


@pytest.fixture(scope="session")
def passages() -> Any:
    """The real int8 passage encoder (committed under models/passage-encoder): what the
    indexer embeds chunks with under ``passage_encoder = "distilled"``; questions stay with
    :func:`embedder`."""
    from appliance.nlp.embedder import Embedder
    from appliance.nlp.paths import ModelPaths

    return Embedder(ModelPaths.locate().passage_encoder, threads=2)


@pytest.fixture(scope="session")
def reranker() -> Any:
    """The real int8 passage reranker (committed under models/reranker)."""
    from appliance.nlp.paths import ModelPaths
    from appliance.nlp.reranker import Reranker

    return Reranker(ModelPaths.locate().reranker, threads=2)


@pytest.fixture(scope="session")
def reader() -> Any:
    """The real int8 all-mpnet-base-v2 passage reader (built by ``make reader-model``)."""
    from appliance.nlp.paths import ModelPaths
    from appliance.nlp.reader import PassageReader

    return PassageReader(ModelPaths.locate().reader, threads=2)


@pytest.fixture(scope="session")
def rag_template(tmp_path_factory: pytest.TempPathFactory, embedder: Any, reader: Any) -> Path:
    """A data dir with the Apple sample imported, a few Items indexed and the reader's
    passage vectors read ahead, as the worker leaves them (built once: apps started on a copy
    find nothing left to read)."""
    from tests.support.rag import build_index

    data_dir = tmp_path_factory.mktemp("rag") / "data"
    build_index(data_dir, embedder, reader)
    return data_dir


@pytest.fixture
def rag_data(tmp_path: Path, rag_template: Path) -> Path:
    """A private copy of the indexed data dir."""
    from tests.support.rag import copy_data_dir

    return copy_data_dir(rag_template, tmp_path / "data")


@pytest.fixture
def rag_conn(rag_data: Path) -> Iterator[Any]:
    """A connection to that copy's database."""
    from appliance.db.connection import connect

    c = connect(rag_data / "appliance.sqlite3")
    yield c
    c.close()


@pytest.fixture(scope="session")
def facts_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with every shared filing that carries inline XBRL imported (built once)."""
    from tests.support.facts import build_facts_data

    data_dir = tmp_path_factory.mktemp("facts") / "data"
    report = build_facts_data(data_dir)
    assert not report.failed, report.public()
    return data_dir


@pytest.fixture
def facts_data(tmp_path: Path, facts_template: Path) -> Path:
    """A private copy of the data dir with the XBRL filings imported."""
    from tests.support.rag import copy_data_dir

    return copy_data_dir(facts_template, tmp_path / "data")


# ----- PostgreSQL: one throwaway cluster per session, a fresh database per test -----

_databases = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """The session's PostgreSQL cluster, with the migrated template. Skipped (with the
    reason) where PostgreSQL cannot run; a failure instead under APPLIANCE_TEST_POSTGRES=required
    (CI), so the engine is never silently untested there."""
    from tests.support.postgres import REQUIRED, Unavailable, cluster, migrated_template

    try:
        with cluster() as pg:
            migrated_template(pg)
            yield pg
    except Unavailable as exc:
        if REQUIRED:
            pytest.fail(f"PostgreSQL is required here (APPLIANCE_TEST_POSTGRES): {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")


def _database_from(pg_cluster: Any, template: str) -> Iterator[str]:
    name = f"test_{os.getpid()}_{next(_databases)}"
    url: str = pg_cluster.create_database(name, template=template)
    yield url
    pg_cluster.drop_database(name)


@pytest.fixture
def pg_url(pg_cluster: Any) -> Iterator[str]:
    """A new, migrated database of its own for one test (copied from the template)."""
    from tests.support.postgres import TEMPLATE

    yield from _database_from(pg_cluster, TEMPLATE)


@pytest.fixture(scope="session")
def facts_pg_template(pg_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PostgreSQL database with the XBRL filings imported there (as facts_template is on
    SQLite), built once; the name of a template for the facts tests' own databases."""
    from tests.support.facts import build_facts_data
    from tests.support.postgres import PG_TOKEN_SECRET, TEMPLATE

    name = "facts_template"
    url = pg_cluster.create_database(name, template=TEMPLATE)
    data_dir = tmp_path_factory.mktemp("facts_pg") / "data"
    report = build_facts_data(data_dir, database_url=url, token_secret=PG_TOKEN_SECRET)
    assert not report.failed, report.public()
    return name


@pytest.fixture
def facts_pg_url(pg_cluster: Any, facts_pg_template: str) -> Iterator[str]:
    """A private PostgreSQL database with the XBRL filings imported."""
    yield from _database_from(pg_cluster, facts_pg_template)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def facts_conn(request: pytest.FixtureRequest, facts_template: Path) -> Iterator[Any]:
    """A connection to the imported XBRL filings on each engine, for tests that only read."""
    if request.param == "postgresql":
        from appliance.db.postgres.database import PgSession

        pg_cluster = request.getfixturevalue("pg_cluster")
        urls = _database_from(pg_cluster, request.getfixturevalue("facts_pg_template"))
        session = PgSession(next(urls))
        yield session.conn
        session.close()
        next(urls, None)  # drops the database
        return
    from appliance.db.connection import connect

    conn = connect(facts_template / "appliance.sqlite3", readonly=True)
    yield conn
    conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> str:
    """Run the test on each storage engine."""
    return str(request.param)


@pytest.fixture
def engine_settings(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Like ``settings``, on the test's engine (PostgreSQL: a fresh database)."""
    from tests.support.postgres import PG_TOKEN_SECRET

    extra: dict[str, Any] = {}
    if engine == "postgresql":
        extra = {"database_url": request.getfixturevalue("pg_url"), "token_secret": PG_TOKEN_SECRET}
    return load_settings(data_dir=tmp_path / "data", load_models=False, access_log=False, **extra)


@pytest.fixture
def engine_conn(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A connection to a migrated, empty database on the test's engine."""
    if engine == "postgresql":
        from appliance.db.postgres.database import PgSession

        session = PgSession(request.getfixturevalue("pg_url"))
        yield session.conn
        session.close()
        return
    from appliance.db.connection import connect
    from appliance.db.migrate import migrate

    conn = connect(tmp_path / "engine.db")
    migrate(conn)
    yield conn
    conn.close()
