"""The app's shared state, created by the lifespan and reached from handlers via the request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute

from appliance.auth import Authenticator
from appliance.billing.service import Billing
from appliance.components import Components
from appliance.db.database import Database
from appliance.metrics import Metrics
from appliance.sessions import Sessions
from appliance.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    metrics: Metrics
    components: Components
    routes: list[BaseRoute]
    db: Database = field(init=False)
    auth: Authenticator = field(init=False)
    billing: Billing = field(init=False)
    sessions: Sessions = field(init=False)
    install_id: str = ""
    openapi: dict[str, Any] | None = None  # built on first request
    # Services later issues attach (models, billing, indexer), keyed by name.
    services: dict[str, Any] = field(default_factory=dict)


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
