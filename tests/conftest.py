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


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests never read the developer's environment or config file by accident.
    import os

    for key in list(os.environ):
        if key.startswith("APPLIANCE_"):
            monkeypatch.delenv(key)


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
