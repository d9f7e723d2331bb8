"""Health, readiness, version, metrics, OpenAPI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from appliance.app import create_app
from appliance.context import AppContext
from appliance.settings import Settings


def test_health_version_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["components"]["database"]["ready"] is True
    v = client.get("/version").json()
    assert v["sqlite_vec"].startswith("v") and len(v["install_id"]) == 36
    assert {"appliance", "python", "sqlite", "onnxruntime"} <= set(v)
    assert v["database"] == "sqlite" and "postgresql" not in v
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for path in ["/healthz", "/auth/token", "/v1/keys", "/v1/keys/{key_id}", "/v1/users"]:
        assert path in doc["paths"], path
    assert "requestBody" in doc["paths"]["/auth/token"]["post"]
    assert "/static/docs.js" in client.get("/docs").text
    assert "swagger-ui-bundle.js" in client.get("/docs/swagger").text


def test_readyz_is_503_while_a_component_is_not_ready(settings: Settings, admin_key: str) -> None:
    holder: dict[str, Any] = {}

    def slow_component(ctx: AppContext) -> None:
        ctx.components.starting("models", "loading")
        holder["ctx"] = ctx

    with TestClient(create_app(settings, startup_hooks=[slow_component])) as c:
        r = c.get("/readyz")
        assert r.status_code == 503
        body = r.json()
        assert body["components"]["models"] == {"ready": False, "detail": "loading"}
        assert body["error"]["code"] == "not_ready" and "models" in body["error"]["message"]
        holder["ctx"].components.ready("models")
        assert c.get("/readyz").status_code == 200
        holder["ctx"].components.failed("models", "checksum mismatch")
        assert "checksum mismatch" in c.get("/readyz").json()["error"]["message"]


def test_missing_models_leave_the_app_up_and_readyz_says_why(
    settings: Settings, admin_key: str, tmp_path: Path
) -> None:
    empty = tmp_path / "no-models"
    empty.mkdir()
    settings.models_dir = empty
    settings.load_models = True
    with TestClient(create_app(settings)) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503
        body = r.json()
        assert body["components"]["models"]["ready"] is False
        assert "models" in body["error"]["message"]
        # Retrieval runs keyword-only instead of taking the app down with it.
        assert body["components"]["retrieval"]["ready"] is True
        assert "keyword" in body["components"]["retrieval"]["detail"]


def test_metrics_count_requests_by_route_template(client: TestClient, admin_key: str) -> None:
    client.get("/healthz")
    client.delete("/v1/keys/12345", headers={"Authorization": f"Bearer {admin_key}"})
    text = client.get("/metrics").text
    assert 'appliance_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="/v1/keys/{key_id:int}",status="404"' in text
    assert "appliance_http_request_duration_seconds_bucket" in text
