"""GET /v1/facts and GET /v1/financials/{ticker} through the real app: values, point in time,
derived quarters, billing, and the one error shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from appliance.app import create_app
from appliance.settings import Settings
from tests.helpers import auth, make_user, wait_until
from tests.support.facts import make_admin, make_settings

NVDA_10K_2023 = "0001045810-23-000017"
NVDA_10K_2025 = "0001045810-25-000023"


@pytest.fixture
def fsettings(facts_data: Path) -> Settings:
    return make_settings(facts_data, cost_facts=2)


@pytest.fixture
def admin(fsettings: Settings) -> str:
    return make_admin(fsettings)


@pytest.fixture
def api(fsettings: Settings, admin: str) -> Iterator[TestClient]:
    with TestClient(create_app(fsettings)) as c:
        yield c


def _facts(api: TestClient, key: str, **params: Any) -> list[dict[str, Any]]:
    r = api.get("/v1/facts", params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    facts: list[dict[str, Any]] = r.json()["facts"]
    return facts


def test_a_concept_by_fiscal_period_with_or_without_its_prefix(api: TestClient, admin: str) -> None:
    for concept in ("Revenues", "us-gaap:Revenues", "us-gaap:revenues"):
        found = _facts(api, admin, ticker="NVDA", concept=concept, fy=2025, fp="FY")
        assert len(found) == 1, (concept, found)
        fact = found[0]
        assert fact["value"] == "130497000000"
        assert fact["unit"] == "USD"
        assert fact["period"] == {"start": "2024-01-29", "end": "2025-01-26"}
        assert fact["concept"] == "us-gaap:Revenues"
        assert fact["label"] == "Revenue"
        assert fact["dimensions"] == {}
        assert (fact["form"], fact["accession"], fact["filing_date"]) == (
            "10-K",
            NVDA_10K_2025,
            "2025-02-26",
        )
        assert fact["section"] == "15"  # NVIDIA prints its statements in Item 15
    assert _facts(api, admin, ticker="NVDA", concept="dei:Revenues") == []


def test_cutoff_hides_a_later_restatement(api: TestClient, admin: str) -> None:
    """NVIDIA's 2025 10-K recasts fiscal 2023 EPS for its 2024 stock split (1.74 -> 0.17)."""
    query = {"ticker": "NVDA", "concept": "EarningsPerShareDiluted", "fy": 2023, "fp": "FY"}
    before = _facts(api, admin, **query, cutoff="2025-02-25")
    assert [(f["value"], f["accession"]) for f in before] == [("1.74", NVDA_10K_2023)]
    after = _facts(api, admin, **query)
    assert [(f["value"], f["accession"]) for f in after] == [("0.17", NVDA_10K_2025)]
    history = _facts(api, admin, **query, history="true")
    assert sorted(f["value"] for f in history) == ["0.17", "1.74"]
    assert _facts(api, admin, **query, cutoff="2023-02-23") == []  # before any filing


def test_label_search_and_dimensions(api: TestClient, admin: str) -> None:
    found = _facts(api, admin, ticker="AAPL", q="net sales", fy=2025, fp="FY", form="10-K")
    assert any(f["value"] == "416161000000" for f in found)
    assert all(f["dimensions"] == {} for f in found)
    revenue = "RevenueFromContractWithCustomerExcludingAssessedTax"
    query = {"ticker": "AAPL", "concept": revenue, "fy": 2025, "fp": "FY", "limit": 1000}
    segments = _facts(api, admin, **query, dimensional="true")
    with_dims = [f for f in segments if f["dimensions"]]
    assert with_dims and all(isinstance(f["dimensions"], dict) for f in with_dims)
    assert sum(1 for f in segments if not f["dimensions"]) == 1


def test_cover_page_facts(api: TestClient, admin: str) -> None:
    shares = _facts(api, admin, ticker="TSLA", concept="dei:EntityCommonStockSharesOutstanding")
    assert ("3216517037", "shares", {"instant": "2025-01-22"}) in [
        (f["value"], f["unit"], f["period"]) for f in shares
    ]
    year = _facts(api, admin, ticker="TSLA", concept="DocumentFiscalYearFocus", form="10-K")
    assert [f["value"] for f in year] == ["2024"]


def _statement(api: TestClient, key: str, ticker: str, **params: Any) -> dict[str, Any]:
    r = api.get(f"/v1/financials/{ticker}", params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _column(body: dict[str, Any], line: str, fy: int, fp: str) -> dict[str, Any] | None:
    col = next(i for i, p in enumerate(body["periods"]) if (p["fy"], p["fp"]) == (fy, fp))
    values = next(row["values"] for row in body["lines"] if row["line"] == line)
    cell: dict[str, Any] | None = values[col]
    return cell


def test_annual_income_statement_as_reported_point_in_time(api: TestClient, admin: str) -> None:
    now = _statement(api, admin, "NVDA")
    assert [p["fy"] for p in now["periods"]][:3] == [2025, 2024, 2023]
    assert _column(now, "revenue", 2025, "FY")["value"] == "130497000000"  # type: ignore[index]
    assert _column(now, "eps_diluted", 2023, "FY")["value"] == "0.17"  # type: ignore[index]
    then = _statement(api, admin, "nvda", cutoff="2024-12-31")
    assert then["periods"][0]["fy"] == 2023
    assert _column(then, "eps_diluted", 2023, "FY")["value"] == "1.74"  # type: ignore[index]
    assert then["as_of"] == "2024-12-31" and then["cik"] == 1045810


def test_quarterly_q4_is_derived_and_marked(api: TestClient, admin: str) -> None:
    body = _statement(api, admin, "AAPL", period="quarterly")
    q4 = _column(body, "revenue", 2025, "Q4")
    assert q4 is not None and q4["derived"] is True
    assert q4["value"] == "102466000000"  # 416,161 - 313,695 (nine months), in millions
    assert {(d["fp"], d["value"]) for d in q4["derived_from"]} == {
        ("FY", "416161000000"),
        ("9M", "313695000000"),
    }
    q3 = _column(body, "revenue", 2025, "Q3")
    assert q3 is not None and q3["derived"] is False and q3["value"] == "94036000000"
    assert _column(body, "eps_diluted", 2025, "Q4") is None  # per-share: never derived
    balance = _statement(api, admin, "AAPL", statement="balance", period="quarterly")
    assert _column(balance, "total_assets", 2025, "Q4")["value"] == "359241000000"  # type: ignore[index]


def _remaining(api: TestClient, key: str) -> int:
    remaining: int = api.get("/v1/quota", headers=auth(key)).json()["remaining"]
    return remaining


def test_billing_charges_cost_facts_and_nothing_for_errors(api: TestClient, admin: str) -> None:
    user = make_user(api, admin, "analyst@example.com", credits=20)["api_key"]
    start = _remaining(api, user)
    assert api.get("/v1/facts?ticker=AAPL&concept=Assets", headers=auth(user)).status_code == 200
    assert api.get("/v1/financials/AAPL", headers=auth(user)).status_code == 200
    assert _remaining(api, user) == start - 4  # cost_facts = 2 each
    bad = [
        "/v1/facts",  # no ticker
        "/v1/facts?ticker=AAPL&fp=Q5",
        "/v1/facts?ticker=AAPL&cutoff=2025-02-30",
        "/v1/facts?ticker=AAPL&concept=not%20a%20concept",
        "/v1/facts?ticker=AAPL&limit=0",
        "/v1/facts?ticker=AAPL&colour=red",
        "/v1/financials/AAPL?statement=cash",
        "/v1/financials/AAPL?period=monthly",
        "/v1/financials/A%24PL",
    ]
    for url in bad:
        r = api.get(url, headers=auth(user))
        assert r.status_code == 400, (url, r.text)
        error = r.json()["error"]
        assert error["code"] == "invalid_payload" and error["request_id"] and error["details"]
    for url in ("/v1/facts?ticker=ZZZZQ", "/v1/financials/ZZZZQ"):
        r = api.get(url, headers=auth(user))
        assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_ticker", r.text
    assert _remaining(api, user) == start - 4  # 400s cost nothing, 404s are refunded
    assert api.get("/v1/facts?ticker=AAPL").status_code == 401


def test_idempotent_retry_is_charged_once_and_quota_is_enforced(
    api: TestClient, admin: str
) -> None:
    user = make_user(api, admin, "buyer@example.com")["api_key"]
    start = _remaining(api, user)
    headers = {**auth(user), "Idempotency-Key": "facts-1"}
    first = api.get("/v1/facts?ticker=TSLA&concept=Assets", headers=headers)
    second = api.get("/v1/facts?ticker=TSLA&concept=Assets", headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.json() == second.json()
    assert _remaining(api, user) == start - 2
    while _remaining(api, user) >= 2:
        assert api.get("/v1/financials/TSLA", headers=auth(user)).status_code == 200
    r = api.get("/v1/financials/TSLA", headers=auth(user))
    assert r.status_code == 402 and r.json()["error"]["code"] == "quota_exhausted"


def _ready(api: TestClient) -> None:
    wait_until(lambda: api.get("/readyz").status_code == 200, message="never ready")


def test_qa_answers_a_numeric_question_from_facts(api: TestClient, admin: str) -> None:
    _ready(api)
    r = api.post(
        "/v1/qa/filings",
        json={"query": "How much operating income did Tesla report for fiscal 2024?"},
        headers=auth(admin),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "$7,076 million" in body["answer"] and "fiscal 2024" in body["answer"]
    assert "down 20.4% from $8,891 million" in body["answer"]  # 7,076 / 8,891 - 1, computed
    first = body["citations"][0]
    assert (first["accession"], first["section"], first["fact"]) == (
        "0001628280-25-003063", "8", "us-gaap:OperatingIncomeLoss",
    )  # fmt: skip
    assert "7,076" in first["text"] and first["url"].startswith("https://www.sec.gov/")
    assert [(f["role"], f["value"]) for f in body["facts"]] == [
        ("value", "7076000000"),
        ("prior", "8891000000"),
    ]
    # The cutoff applies to facts as to text: before the 10-K, no fiscal 2024 figure.
    r = api.post(
        "/v1/qa/filings",
        json={"query": "How much operating income did Tesla report for fiscal 2024?",
              "cutoff": "2025-01-29"},
        headers=auth(admin),
    )  # fmt: skip
    assert r.status_code == 200 and r.json()["facts"] == []
    r = api.post(
        "/v1/qa/filings", json={"query": "Who is Tesla's chief executive?"}, headers=auth(admin)
    )
    assert r.status_code == 200 and r.json()["facts"] == []
