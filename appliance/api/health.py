"""Liveness, readiness, version, metrics, and the API's own description."""

from __future__ import annotations

import platform
from typing import Any

import onnxruntime
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance import __version__
from appliance.api.responses import JSON, reply
from appliance.api.schemas import Status
from appliance.context import get_ctx
from appliance.db.connection import versions
from appliance.openapi import build_document, spec


class ComponentOut(BaseModel):
    ready: bool
    detail: str


class ReadinessError(BaseModel):
    code: str
    message: str
    request_id: str


class Readiness(BaseModel):
    status: str = Field(description="ready or not_ready")
    components: dict[str, ComponentOut]
    error: ReadinessError | None = Field(None, description="Only when not ready.")


class Version(BaseModel):
    appliance: str
    python: str
    database: str = Field(description="The storage engine: sqlite or postgresql.")
    sqlite: str | None = Field(None, description="Only on SQLite.")
    sqlite_vec: str | None = Field(None, description="Only on SQLite.")
    postgresql: str | None = Field(None, description="The server's version; only on PostgreSQL.")
    onnxruntime: str
    install_id: str = Field(description="What license keys are bound to.")


@spec("Liveness: 200 while the process serves", response=Status, auth=False, tags=("operations",))
async def healthz(request: Request) -> Response:
    return reply(Status, {"status": "ok"})


@spec(
    "Readiness: 200 when every component is ready",
    response=Readiness,
    error_bodies={503: Readiness},
    auth=False,
    statuses=(200, 503),
    tags=("operations",),
)
async def readyz(request: Request) -> Response:
    ctx = get_ctx(request)
    ctx.db.probe_storage()  # while writes fail for lack of space: has some been freed?
    states = ctx.components.snapshot()
    body: dict[str, Any] = {
        "status": "ready" if ctx.components.all_ready() else "not_ready",
        "components": {name: {"ready": s.ready, "detail": s.detail} for name, s in states.items()},
    }
    if body["status"] != "ready":
        not_ready = [f"{n} ({s.detail})" for n, s in states.items() if not s.ready]
        body["error"] = {
            "code": "not_ready",
            "message": "not ready: " + ", ".join(not_ready),
            "request_id": request.state.request_id,
        }
        return reply(Readiness, body, status_code=503)
    return reply(Readiness, body)


@spec(
    "Versions of the appliance and its engines; the install id",
    response=Version,
    auth=False,
    tags=("operations",),
)
async def version(request: Request) -> Response:
    ctx = get_ctx(request)
    engine = await ctx.db.read(versions)  # sqlite + sqlite_vec, or postgresql
    return reply(
        Version,
        {
            "appliance": __version__,
            "python": platform.python_version(),
            "database": ctx.db.dialect,
            **engine,
            "onnxruntime": onnxruntime.__version__,
            "install_id": ctx.install_id,
        },
    )


@spec("Prometheus metrics", auth=False, content_type="text/plain", tags=("operations",))
async def metrics(request: Request) -> Response:
    return Response(
        get_ctx(request).metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


@spec("This OpenAPI document", auth=False, tags=("operations",))
async def openapi_json(request: Request) -> Response:
    ctx = get_ctx(request)
    if ctx.openapi is None:
        ctx.openapi = build_document(ctx.routes, ctx.settings.credit_costs)
    return JSON(ctx.openapi)


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/version", version, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/openapi.json", openapi_json, methods=["GET"]),
]
