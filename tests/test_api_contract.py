"""The API does what its OpenAPI document says, and billing is declared where it happens.

Every operation of the real app is called once with its documented example: each success
answer must validate against the documented schema, and the operations that wrote a usage
event (spent credits) must be exactly those declared ``@billable``. A handler that spends
without the declaration, or declares it without metering, fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_spec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.testclient import TestClient

from appliance import app as app_module
from appliance.api.billable import declaration_of
from appliance.api.responses import JSON
from appliance.app import build_routes, create_app
from appliance.auth import current_user
from appliance.context import get_ctx
from appliance.openapi import build_document, example_of, spec
from appliance.settings import Settings
from tests.helpers import auth, make_user, wait_until
from tests.support.rag import AAPL_10K_2024, make_settings


@pytest.fixture
def contract_settings(rag_data: Path) -> Settings:
    return make_settings(rag_data, echo_endpoint=True)


@pytest.fixture
def admin(contract_settings: Settings) -> str:
    from appliance import accounts
    from appliance.cli.common import write

    created = write(contract_settings, accounts.create_user, "ops@example.com", None, is_admin=True)
    return created.api_key


@pytest.fixture
def live_client(contract_settings: Settings, admin: str) -> Iterator[TestClient]:
    with TestClient(create_app(contract_settings)) as c:
        wait_until(lambda: c.get("/readyz").status_code == 200, message="never ready")
        yield c


def operations(routes: list[BaseRoute]) -> list[tuple[Route, str]]:
    out = []
    for route in routes:
        if isinstance(route, Route):
            out.extend((route, m) for m in sorted((route.methods or set()) - {"HEAD"}))
    return out


def call_every_operation(
    client: TestClient, routes: list[BaseRoute], key: str, path_values: dict[str, str]
) -> dict[tuple[str, str], Any]:
    """Call each operation once with its documented example; returns the responses."""
    answers = {}
    for route, method in operations(routes):
        es = getattr(route.endpoint, "__openapi__", None)
        path = route.path
        for name in re.findall(r"{([a-zA-Z_]+)(?::[a-z]+)?}", path):
            path = re.sub(rf"{{{name}(:[a-z]+)?}}", path_values[name], path)
        body = example_of(es.body) if es is not None and es.body is not None else None
        query = example_of(es.query) if es is not None and es.query is not None else None
        if query is not None:
            query = {k: v for k, v in query.items() if f"{{{k}" not in route.path}
        answers[(route.path, method)] = client.request(
            method, path, json=body, params=query, headers=auth(key)
        )
    return answers


def spenders(client: TestClient, answers: dict[tuple[str, str], Any], key: str) -> set[str]:
    """The operations whose request wrote a usage event (charged, refunded or refused)."""
    events = client.get("/v1/usage", params={"limit": 1000}, headers=auth(key)).json()["events"]
    spent_ids = {e["request_id"] for e in events}
    return {f"{m} {p}" for (p, m), r in answers.items() if r.headers["x-request-id"] in spent_ids}


def test_the_document_validates_and_every_success_has_a_schema(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    validate_spec(doc)  # the reference validator (raises on any violation)
    missing = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                content = response.get("content", {})
                for media in content.values():
                    schema = media.get("schema")
                    generic = schema in (None, {}, {"type": "object"})
                    if status.startswith("2") and generic and path != "/openapi.json":
                        missing.append(f"{method} {path} {status}")
            assert op["responses"], f"{method} {path} documents no answer"
    assert not missing, f"success answers without a schema: {missing}"


def test_billable_operations_document_billing(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    meters = {
        (route.path, m): found.endpoint
        for route, m in operations(build_routes())
        if (found := declaration_of(route.endpoint)) is not None
    }
    declared = set(meters)
    assert {("/v1/nlp/sentiment", "POST"), ("/v1/qa/filings", "POST")} <= declared
    for path, method in declared:
        op = doc["paths"][re.sub(r":[a-z]+}", "}", path)][method.lower()]
        assert {"402", "409", "422", "429"} <= set(op["responses"]), path
        assert any(p["name"] == "Idempotency-Key" for p in op["parameters"]), path
        # The /docs page marks an operation billable from this, not from its prose.
        assert op["x-billable"]["meter"] == meters[path, method], path
        headers = op["responses"]["200"]["headers"]
        assert {"X-Credits-Remaining", "RateLimit-Remaining"} <= set(headers), path
        assert "Retry-After" in op["responses"]["429"]["headers"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if (path, method.upper()) not in {
                (re.sub(r":[a-z]+}", "}", p), m) for p, m in declared
            }:
                names = {p["name"] for p in op["parameters"]}
                assert "Idempotency-Key" not in names, f"{method} {path} is not billable"
                assert "x-billable" not in op, f"{method} {path} is not billable"


def test_every_operation_answers_as_documented_and_only_declared_ones_spend(
    live_client: TestClient, admin: str
) -> None:
    c = live_client
    user = make_user(c, admin, "contract@example.com", credits=1000)
    key_id = c.post("/v1/keys", json={"name": "to revoke"}, headers=auth(admin)).json()["id"]
    # A ticker with nothing to import: its job ends at once.
    job = c.post("/ops/index", params={"ticker": "MSFT"}, headers=auth(admin)).json()
    routes = build_routes()
    values = {
        "key_id": str(key_id),
        "accession": AAPL_10K_2024,
        "item": "1",
        "ticker": "AAPL",
        "job_id": str(job["job_id"]),
        "session_id": "cs_none",
        "user_id": str(user["id"]),
        "path": "console/app.js",
    }
    answers = call_every_operation(c, routes, admin, values)
    assert not [k for k, r in answers.items() if r.status_code == 500], "a 500"

    doc = c.get("/openapi.json").json()
    checked = 0
    for (path, method), r in answers.items():
        op = doc["paths"].get(re.sub(r":[a-z]+}", "}", path), {}).get(method.lower())
        if op is None or r.status_code >= 300:
            continue
        documented = op["responses"].get(str(r.status_code))
        assert documented is not None, f"{method} {path} answered {r.status_code}, undocumented"
        media = documented["content"]
        if "application/json" in media:
            schema = {**media["application/json"]["schema"], "components": doc["components"]}
            jsonschema.validate(r.json(), schema, cls=jsonschema.Draft202012Validator)
            checked += 1
    assert checked >= 25, f"only {checked} success answers checked"

    declared = {
        f"{m} {route.path}"
        for route, m in operations(routes)
        if declaration_of(route.endpoint) is not None
    }
    assert spenders(c, answers, admin) == declared

    # The Q&A's unanswered statuses come in the same documented shape.
    qa = doc["paths"]["/v1/qa/filings"]["post"]["responses"]["200"]["content"]
    qa_schema = {**qa["application/json"]["schema"], "components": doc["components"]}
    for question, status in (
        ("How many employees does Microsoft have?", "not_indexed"),
        ("purple monkey dishwasher banana", "no_answer"),
    ):
        r = c.post("/v1/qa/filings", json={"query": question}, headers=auth(admin))
        assert r.status_code == 200 and r.json()["status"] == status, r.text
        jsonschema.validate(r.json(), qa_schema, cls=jsonschema.Draft202012Validator)


def test_the_qa_answer_documents_its_statuses_and_index_building(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/v1/qa/filings"]["post"]
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    props = schema["properties"]
    assert props["status"]["enum"] == ["answered", "no_answer", "not_indexed"]
    assert {"type": "null"} in props["answer"]["anyOf"]
    assert {"type": "null"} in props["message"]["anyOf"]
    assert props["confidence"]["minimum"] == 0 and props["confidence"]["maximum"] == 1
    required = {"status", "answer", "message", "citations", "companies", "confidence"}
    assert required <= set(schema["required"])
    company = doc["components"]["schemas"][props["companies"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert set(company["properties"]) == {"ticker", "cik", "company", "indexed"}
    assert "index_building" in op["responses"]["503"]["description"]
    assert "index_building" in op["description"] and "Retry-After" in op["description"]


async def _rogue(request: Request) -> Response:
    # Spends through the in-process billing API without declaring itself billable.
    user = current_user(request)
    await get_ctx(request).billing.spend(user.id, "rogue", 1, request.state.request_id)
    return JSON({"ok": True})


def test_a_handler_that_spends_without_the_declaration_is_caught(
    settings: Settings, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rogue = Route("/v1/rogue", spec("Spends, undeclared")(_rogue), methods=["POST"])
    monkeypatch.setattr(app_module, "build_routes", lambda: [*build_routes(), rogue])
    with TestClient(create_app(settings)) as c:
        answers = call_every_operation(c, [rogue], admin_key, {})
        assert answers[("/v1/rogue", "POST")].status_code == 200
        spent = spenders(c, answers, admin_key)
    declared = {f"POST {rogue.path}"} if declaration_of(rogue.endpoint) else set()
    assert spent == {"POST /v1/rogue"} and spent != declared


def test_the_document_is_built_from_the_routes(client: TestClient, settings: Settings) -> None:
    assert client.get("/openapi.json").json() == build_document(
        build_routes(), settings.credit_costs
    )


def test_billable_operations_quote_this_sites_prices(settings: Settings, admin_key: str) -> None:
    """/docs says what a call costs here and which setting changes it, not the setting's name."""
    priced = settings.model_copy(update={"cost_sentiment": 3, "cost_qa": 1})
    with TestClient(create_app(priced)) as c:
        doc = c.get("/openapi.json").json()
    sentiment = doc["paths"]["/v1/nlp/sentiment"]["post"]
    assert sentiment["x-billable"] == {
        "meter": sentiment["x-billable"]["meter"],
        "cost": "3 credits per text",
        "credits": 3,
        "setting": "cost_sentiment",
    }
    assert "(3 credits per text, set by `cost_sentiment`)" in sentiment["description"]
    qa = doc["paths"]["/v1/qa/filings"]["post"]["x-billable"]
    assert (qa["cost"], qa["credits"]) == ("1 credit per question", 1)
    every = [
        op["x-billable"]
        for ops in doc["paths"].values()
        for op in ops.values()
        if "x-billable" in op
    ]
    assert every and all(b["setting"] in priced.credit_costs for b in every)
    assert not any(b["cost"].startswith("cost_") for b in every)


def test_the_hardening_and_one_balance_answers_are_documented(client: TestClient) -> None:
    """What issues 14 and 15 added is in the document: JSON-only and throttled sign-in, the
    Host rule on every operation, a full disk on billable calls, one balance on users."""
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    token = paths["/auth/token"]["post"]["responses"]
    assert {"415", "429"} <= set(token)
    assert "login_throttled" in token["429"]["description"]
    assert "unsupported_media_type" in token["415"]["description"]
    assert "login_throttled" in paths["/auth/session"]["post"]["responses"]["429"]["description"]
    for path, ops in paths.items():
        for method, op in ops.items():
            assert "host_not_allowed" in op["responses"]["421"]["description"], (method, path)
    for path, method in [("/v1/echo", "post"), ("/v1/qa/filings", "post")]:
        text = paths[path][method]["responses"]["503"]["description"]
        assert "storage_full" in text and "shutting_down" in text, path
    schemas = doc["components"]["schemas"]
    balance = {"remaining", "allowance_remaining", "monthly_allowance", "purchased", "resets_at"}
    me = paths["/v1/me"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    user_out = schemas[me["$ref"].rsplit("/", 1)[1]]
    assert balance <= set(user_out["required"]) and "quota_remaining" not in user_out["properties"]
    created = paths["/v1/users"]["post"]
    body = created["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert "ledger" in schemas[body.rsplit("/", 1)[1]]["properties"]["credits"]["description"]
    out = created["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    assert balance <= set(schemas[out.rsplit("/", 1)[1]]["required"])


def _refs(node: Any, at: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield at, node
        for key, value in node.items():
            yield from _refs(value, f"{at}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _refs(value, f"{at}/{i}")


def test_every_ref_is_a_bare_local_pointer_the_docs_page_can_resolve_cheaply(
    client: TestClient,
) -> None:
    """Swagger UI at /docs/swagger (static/swagger.js) resolves $refs with the OpenAPI 3.0
    resolver, which treats a $ref the same as 3.1 only when it points into this document and
    has no sibling keywords (3.1 gives siblings a meaning that 3.0 does not); the /docs page
    (static/docs.js) follows local pointers only. A schema that breaks this must change
    both."""
    doc = client.get("/openapi.json").json()
    found = list(_refs(doc))
    assert found  # the document does use $refs (the pydantic models)
    for at, node in found:
        assert set(node) == {"$ref"}, f"{at}: $ref with sibling keywords {sorted(node)}"
        target = node["$ref"]
        assert target.startswith("#/components/"), f"{at}: non-local $ref {target}"
        resolved: Any = doc
        for part in target[2:].split("/"):
            resolved = resolved[part]
        assert isinstance(resolved, dict), f"{at}: {target} resolves to no object"
