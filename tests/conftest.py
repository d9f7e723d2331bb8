"""Fixtures: a real app over a real SQLite file in tmp_path, with its lifespan running."""

from __future__ import annotations

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
def rag_template(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    """A data dir with the Apple sample imported and a few Items indexed (built once)."""
    from tests.support.rag import build_index

    data_dir = tmp_path_factory.mktemp("rag") / "data"
    build_index(data_dir, embedder)
    return data_dir


@pytest.fixture
def rag_data(tmp_path: Path, rag_template: Path) -> Path:
    """A private copy of the indexed data dir."""
    from tests.support.rag import copy_data_dir

    return copy_data_dir(rag_template, tmp_path / "data")


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
