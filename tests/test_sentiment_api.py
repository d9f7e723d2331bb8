"""POST /v1/nlp/sentiment through the real app with the real models, metered."""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from appliance.app import create_app
from appliance.bootstrap import initialize
from appliance.settings import load_settings
from tests.helpers import auth, make_user


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    data = tmp_path_factory.mktemp("sentiment") / "data"
    settings = load_settings(
        data_dir=data, access_log=False, rate_limit_per_second=0, edgar_sample_on_first_start=False
    )
    admin = initialize(settings).admin_api_key
    assert admin
    with TestClient(create_app(settings)) as client:
        yield client, admin


@pytest.fixture
def user(app_client: tuple[TestClient, str], request: pytest.FixtureRequest) -> dict[str, Any]:
    client, admin = app_client
    return make_user(client, admin, f"u{uuid.uuid4().hex[:12]}@example.com", credits=100)


def post(client: TestClient, key: str, body: Any) -> Any:
    return client.post("/v1/nlp/sentiment", json=body, headers=auth(key))


def remaining(client: TestClient, key: str) -> int:
    return int(client.get("/v1/quota", headers=auth(key)).json()["remaining"])


def test_clear_cases_and_response_shape(
    app_client: tuple[TestClient, str], user: dict[str, Any]
) -> None:
    client, _ = app_client
    r = post(client, user["api_key"], {"text": "Operating profit rose to EUR 13.1 mn"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["label"] == "positive"
    assert set(body["scores"]) == {"negative", "neutral", "positive"}
    assert abs(sum(body["scores"].values()) - 1) < 1e-3
    assert body["model"].count("@") == 1
    assert [s["text"] for s in body["sentences"]] == ["Operating profit rose to EUR 13.1 mn"]
    r = post(
        client, user["api_key"], {"text": "The company reported a net loss and cut its dividend"}
    )
    assert r.json()["label"] == "negative"
    assert int(r.headers["x-credits-remaining"]) == 110 - 2


def test_long_text_is_split_into_sentences(
    app_client: tuple[TestClient, str], user: dict[str, Any]
) -> None:
    client, _ = app_client
    text = (
        "Net sales increased 12% to $94.9 billion. Gross margin expanded on a favorable mix. "
        "However, the company cut its full-year outlook and announced layoffs. "
        "The board declared a quarterly dividend of $0.25 per share."
    )
    body = post(client, user["api_key"], {"text": text}).json()
    assert len(body["sentences"]) == 4
    labels = [s["label"] for s in body["sentences"]]
    assert labels[0] == "positive" and labels[2] == "negative"


def test_batch_keeps_order_and_costs_one_credit_per_text(
    app_client: tuple[TestClient, str], user: dict[str, Any]
) -> None:
    client, _ = app_client
    texts = [
        "Shares plunged after the profit warning",
        "Revenue beat estimates and guidance was raised",
        "The annual meeting will be held on May 5",
    ]
    before = remaining(client, user["api_key"])
    r = post(client, user["api_key"], {"texts": texts})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [res["sentences"][0]["text"] for res in results] == texts
    assert [res["label"] for res in results][:2] == ["negative", "positive"]
    assert remaining(client, user["api_key"]) == before - 3
    # The same texts one by one give the same labels: batching does not change answers.
    singles = [post(client, user["api_key"], {"text": t}).json()["label"] for t in texts]
    assert singles == [res["label"] for res in results]


BAD_BODIES = [
    ({"text": ""}, "text"),
    ({"text": "   \n "}, "text"),
    ({"text": "x" * 20_001}, "text"),
    ({"text": 5}, "text"),
    ({"texts": []}, "texts"),
    ({"texts": "not a list"}, "texts"),
    ({"texts": ["ok", ""]}, "texts.1"),
    ({"texts": ["ok", 3]}, "texts.1"),
    ({"texts": ["a"] * 65}, "texts"),
    ({"text": "a", "texts": ["b"]}, "body"),
    ({}, "body"),
    ({"text": "a", "extra": 1}, "extra"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_bad_input_is_400_naming_the_field_and_costs_nothing(
    app_client: tuple[TestClient, str], user: dict[str, Any], body: Any, field: str
) -> None:
    client, _ = app_client
    before = remaining(client, user["api_key"])
    r = post(client, user["api_key"], body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_payload"
    fields = [d["field"] for d in err["details"]]
    assert any(f == field or f.startswith(field) for f in fields), fields
    assert remaining(client, user["api_key"]) == before


def test_malformed_json_and_missing_auth(
    app_client: tuple[TestClient, str], user: dict[str, Any]
) -> None:
    client, _ = app_client
    r = client.post(
        "/v1/nlp/sentiment",
        content=b'{"text": ',
        headers={**auth(user["api_key"]), "content-type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_payload"
    r = client.post("/v1/nlp/sentiment", json={"text": "hello"})
    assert r.status_code == 401


def test_concurrent_requests_are_micro_batched_and_all_answered(
    app_client: tuple[TestClient, str], user: dict[str, Any]
) -> None:
    client, _ = app_client
    texts = [f"Quarterly revenue grew {i}% year over year" for i in range(24)]
    before = remaining(client, user["api_key"])
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(lambda t: post(client, user["api_key"], {"text": t}), texts))
    assert [r.status_code for r in responses] == [200] * 24
    assert all(r.json()["sentences"][0]["text"] == t for r, t in zip(responses, texts, strict=True))
    assert remaining(client, user["api_key"]) == before - 24


def test_503_without_models_costs_nothing(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path / "d",
        load_models=False,
        access_log=False,
        edgar_sample_on_first_start=False,
    )
    admin = initialize(settings).admin_api_key
    assert admin
    with TestClient(create_app(settings)) as client:
        u = make_user(client, admin, "nomodels@example.com", credits=5)
        before = remaining(client, u["api_key"])
        r = post(client, u["api_key"], {"text": "Profit rose"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
        assert remaining(client, u["api_key"]) == before


def test_anonymous_caller_gets_401_before_validation_or_readiness(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path / "d",
        load_models=False,
        access_log=False,
        edgar_sample_on_first_start=False,
    )
    initialize(settings)
    with TestClient(create_app(settings)) as client:
        for body in ({"text": ""}, {"nope": 1}, {"text": "Profit rose"}):
            r = client.post("/v1/nlp/sentiment", json=body)
            assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", body


# The mistakes the 1.0.0 model made on formal statements (issue 12), through the API; 2.1.0
# and 2.2.0 get them all right (2.0.0 still scored the guidance cut after a positive
# sentence neutral).
FORMAL_CASES = [
    ("Operating margin expanded to 30%.", "positive"),
    ("Operating expenses decreased 8%, driving higher profitability.", "positive"),
    (
        "The auditor expressed substantial doubt about the company's ability to continue as a "
        "going concern.",
        "negative",
    ),
    ("The quarterly net loss widened to $42 million.", "negative"),
    (
        "The board declared a quarterly dividend of $0.25 per share, unchanged from last quarter.",
        "neutral",
    ),
]


@pytest.mark.parametrize(("text", "label"), FORMAL_CASES)
def test_formal_statements(
    app_client: tuple[TestClient, str], user: dict[str, Any], text: str, label: str
) -> None:
    client, _ = app_client
    body = post(client, user["api_key"], {"text": text}).json()
    assert body["label"] == label, body


def test_each_sentence_is_scored_on_its_own_and_guidance_decides(
    app_client: tuple[TestClient, str], user: dict[str, Any]
) -> None:
    client, _ = app_client
    body = post(
        client,
        user["api_key"],
        {"text": "Revenue rose 5% in the quarter. But guidance was cut sharply."},
    ).json()
    assert [s["label"] for s in body["sentences"]] == ["positive", "negative"], body
    assert body["label"] == "negative"
    weights = [s["weight"] for s in body["sentences"]]
    assert sum(weights) == pytest.approx(1.0, abs=1e-4) and weights[1] > weights[0]


@pytest.mark.parametrize("text", ["12312 ;;; zzz", "4411 ;; qq", "$$ -- 0.0", "hjkl poiu"])
def test_text_without_language_is_neutral_and_unsure(
    app_client: tuple[TestClient, str], user: dict[str, Any], text: str
) -> None:
    client, _ = app_client
    body = post(client, user["api_key"], {"text": text}).json()
    assert body["label"] == "neutral", body
    assert max(body["scores"].values()) < 0.6
    assert all(s["label"] == "neutral" for s in body["sentences"])


def test_noise_next_to_a_statement_does_not_dilute_it(
    app_client: tuple[TestClient, str], user: dict[str, Any]
) -> None:
    client, _ = app_client
    alone = post(client, user["api_key"], {"text": "Net income fell 40% and the dividend was cut."})
    text = "Net income fell 40% and the dividend was cut.\n\n12312 ;;; zzz"
    noisy = post(client, user["api_key"], {"text": text})
    assert alone.json()["label"] == noisy.json()["label"] == "negative"
    assert noisy.json()["scores"] == alone.json()["scores"]
