"""The EDGAR endpoints through the real app (lifespan, auth, error shape)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from appliance.db.connection import connect
from appliance.edgar.importer import import_paths
from appliance.edgar.sample import install_sample
from appliance.settings import Settings
from tests.helpers import auth
from tests.support.edgar_data import FILINGS


@pytest.fixture
def loaded(client: TestClient, settings: Settings) -> Iterator[TestClient]:
    conn = connect(settings.db_path)
    try:
        result = install_sample(conn)
        assert result.filings is not None and len(result.filings.imported) == 5
        import_paths(conn, [FILINGS / "TSLA"])
    finally:
        conn.close()
    yield client


def test_symbols(loaded: TestClient, admin_key: str) -> None:
    r = loaded.get("/v1/symbols/aapl", headers=auth(admin_key))
    assert r.status_code == 200
    assert r.json() == {
        "ticker": "AAPL", "cik": 320193, "name": "Apple Inc.", "exchange": "Nasdaq",
        "vintage": "2025-12-14", "tickers": ["AAPL"],
    }  # fmt: skip
    assert loaded.get("/v1/symbols/GOOG", headers=auth(admin_key)).json()["tickers"] == [
        "GOOGL", "GOOG"
    ]  # fmt: skip
    found = loaded.get("/v1/symbols", params={"q": "apple"}, headers=auth(admin_key)).json()
    assert found["symbols"][0]["ticker"] == "AAPL"
    missing = loaded.get("/v1/symbols/NOPE123", headers=auth(admin_key))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad = loaded.get("/v1/symbols", params={"q": ""}, headers=auth(admin_key))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_payload"
    assert loaded.get("/v1/symbols/AAPL").status_code == 401


def test_filings_list_with_cutoff(loaded: TestClient, admin_key: str) -> None:
    r = loaded.get(
        "/v1/filings",
        params={"ticker": "AAPL", "form": "10-K", "cutoff": "2025-01-01"},
        headers=auth(admin_key),
    )
    assert r.status_code == 200
    filings = r.json()["filings"]
    assert [f["accession"] for f in filings] == ["0000320193-24-000123"]
    assert "sections" not in filings[0] and filings[0]["period_of_report"] == "2024-09-28"
    everything = loaded.get("/v1/filings", headers=auth(admin_key)).json()["filings"]
    assert len(everything) == 7 and everything[0]["filing_date"] == "2025-10-31"
    bad = loaded.get("/v1/filings", params={"cutoff": "soon"}, headers=auth(admin_key))
    assert bad.status_code == 400


def test_one_filing_and_one_section(loaded: TestClient, admin_key: str) -> None:
    r = loaded.get("/v1/filings/0000320193-25-000079", headers=auth(admin_key))
    assert r.status_code == 200
    body = r.json()
    assert body["url"].endswith("/320193/000032019325000079/aapl-20250927.htm")
    items = {s["item"]: s for s in body["sections"]}
    assert len(items) == 23 and items["1A"]["title"] == "Risk Factors"
    assert items["1A"]["char_count"] > 50_000 and "text" not in items["1A"]
    s = loaded.get("/v1/filings/0000320193-25-000079/sections/1A", headers=auth(admin_key))
    assert s.status_code == 200 and len(s.json()["text"]) == items["1A"]["char_count"]
    q = loaded.get(
        "/v1/filings/0001628280-25-035806/sections/part2_item1a", headers=auth(admin_key)
    )
    assert q.status_code == 200 and q.json()["title"] == "RISK FACTORS"
    for path in (
        "/v1/filings/0000320193-99-999999",
        "/v1/filings/not-an-accession",
        "/v1/filings/0000320193-25-000079/sections/42",
    ):
        miss = loaded.get(path, headers=auth(admin_key))
        assert miss.status_code == 404 and set(miss.json()["error"]) == {
            "code", "message", "request_id"
        }  # fmt: skip


def test_openapi_lists_the_edgar_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/symbols",
        "/v1/symbols/{ticker}",
        "/v1/filings",
        "/v1/filings/{accession}",
        "/v1/filings/{accession}/sections/{item}",
    ):
        assert path in paths, path
