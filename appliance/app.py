"""``create_app(settings)``: the one app factory. No module-level state anywhere."""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from appliance.api import (
    accounts,
    admin,
    billing,
    facts,
    filings,
    health,
    nlp,
    ops,
    payments,
    qa,
    session,
    symbols,
)
from appliance.api.responses import JSON
from appliance.auth import Authenticator
from appliance.billing.payments import Payments
from appliance.billing.service import Billing
from appliance.bootstrap import initialize
from appliance.components import Components
from appliance.context import AppContext
from appliance.db.database import open_database
from appliance.db.queries import meta
from appliance.db.storage import StorageFull
from appliance.errors import ApplianceError, error_body
from appliance.instance import InstanceLock
from appliance.logins import LoginThrottle
from appliance.metrics import Metrics
from appliance.middleware import RequestContextMiddleware
from appliance.nlp.service import load_models
from appliance.rag.service import load_reranker, start_rag
from appliance.replicas import ReplicaServices, check_settings
from appliance.sessions import Sessions
from appliance.settings import Settings
from appliance.token_secret import TokenSecret, secret_path
from appliance.web import pages

log = logging.getLogger("appliance")

# Extra start-up steps (tests): run after every part of the context is built; each may
# return a stop callable (sync or async).
StartupHook = Callable[[AppContext], Any]


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


async def _appliance_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApplianceError)
    return JSON(
        error_body(exc.code, exc.message, _request_id(request), exc.details),
        status_code=exc.status,
        headers=exc.headers,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = "no such endpoint" if exc.status_code == 404 else str(exc.detail)
    return JSON(
        error_body(code, message, _request_id(request)),
        status_code=exc.status_code,
        headers=dict(exc.headers or {}),
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", extra={"request_id": _request_id(request)})
    return JSON(
        error_body("internal_error", "internal error; see the server log", _request_id(request)),
        status_code=500,
    )


def build_routes() -> list[BaseRoute]:
    return [
        *health.routes,
        *pages.routes,
        *session.routes,
        *accounts.routes,
        *admin.routes,
        *billing.routes,
        *payments.routes,
        *symbols.routes,
        *filings.routes,
        *facts.routes,
        *nlp.routes,
        *qa.routes,
        *ops.routes,
    ]


@contextlib.asynccontextmanager
async def _serving(
    ctx: AppContext, settings: Settings, hooks: list[StartupHook]
) -> AsyncIterator[None]:
    """Build the app object's parts in dependency order; stop them in reverse."""
    ctx.components.starting("database")
    check_settings(settings)
    result = initialize(settings, create_admin=False)  # serve/init show the first key
    ctx.install_id = result.install_id
    ctx.db = open_database(
        settings,
        on_writer_stopped=lambda reason: ctx.components.failed(
            "database", f"the writer thread stopped: {reason}"
        ),
        on_storage=lambda full: (
            ctx.components.failed("database", full.message)
            if full is not None
            else ctx.components.ready("database", "migrations applied")
        ),
    )
    ctx.db.start()
    replica = ReplicaServices.start(settings, ctx.db) if settings.database_url else None
    stops: list[Callable[[], Any]] = []
    try:
        secret = (
            TokenSecret(None, fixed=settings.token_secret.get_secret_value().encode())
            if settings.token_secret
            else TokenSecret(secret_path(settings.data_dir))
        )
        ctx.auth = Authenticator(ctx.db, secret, cache_seconds=settings.auth_cache_seconds)
        ctx.billing = Billing(
            ctx.db, settings, ctx.metrics, shared_limiter=replica.limiter if replica else None
        )
        ctx.logins = LoginThrottle(ctx.db, settings)
        ctx.sessions = Sessions(ctx.db, ctx.install_id, timedelta(hours=settings.session_ttl_hours))
        ctx.payments = Payments(settings, ctx.install_id, metrics=ctx.metrics)
        log.info("payments: provider %s", settings.effective_payment_provider)
        try:
            await ctx.db.write(meta.put, "storage_probe", "start")
            await ctx.billing.start()
            await ctx.sessions.purge()
            ctx.components.ready("database", "migrations applied")
        except StorageFull as exc:
            # Serve anyway (reads work; billable calls answer 503 storage_full) and say so in
            # one line; /readyz turns ready once a write lands again.
            log.error("starting on a full disk: %s", exc.message)
        if replica is not None:
            replica.sweep()
        ctx.models = load_models(settings, ctx.components)
        if ctx.models is not None:
            stops.append(ctx.models.aclose)
        ctx.rag = start_rag(
            ctx.db,
            settings,
            ctx.components,
            ctx.models.embedder if ctx.models is not None else None,
            reranker=load_reranker(settings) if ctx.models is not None else None,
            passage_encoder=ctx.models.passage_encoder if ctx.models is not None else None,
        )
        stops.append(ctx.rag.stop)
        for hook in hooks:
            stop = hook(ctx)
            if callable(stop):
                stops.append(stop)
        yield
    finally:
        for stop in reversed(stops):
            try:
                stopped = stop()
                if inspect.isawaitable(stopped):
                    await stopped
            except Exception:
                log.exception("error while stopping a component")
        if replica is not None:
            replica.stop()
        ctx.db.close()
        if replica is not None:
            replica.leave()


def create_app(settings: Settings, *, startup_hooks: list[StartupHook] | None = None) -> Starlette:
    routes = build_routes()
    ctx = AppContext(settings=settings, metrics=Metrics(), components=Components(), routes=routes)
    hooks = list(startup_hooks or [])

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.database_url:
            # Replicas share the database: recovery takes a lock in it (appliance/replicas.py).
            async with _serving(ctx, settings, hooks):
                yield
            return
        # One server per data dir: taken before start-up recovery, released last.
        instance = InstanceLock(settings.data_dir)
        instance.acquire()
        try:
            async with _serving(ctx, settings, hooks):
                yield
        finally:
            instance.release()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            ApplianceError: _appliance_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.state.ctx = ctx
    app.add_middleware(RequestContextMiddleware, ctx=ctx)
    if settings.cors_allowed_origins:
        # Outermost, so preflights are answered before authentication. API keys only:
        # credentials (the console's cookie) never cross origins.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allowed_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "X-API-Key",
                "X-Request-ID",
            ],
            expose_headers=[
                "X-Request-ID",
                "X-Credits-Remaining",
                "Idempotent-Replayed",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
                "Retry-After",
            ],
            allow_credentials=False,
            max_age=600,
        )
    return app
