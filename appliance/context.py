"""The one app object: every service of a running appliance, typed, reached from handlers via
the request (Datasette's ``ds``).

:func:`appliance.app.start` builds the parts in dependency order (database, then what reads
and writes it: auth, billing, sessions, payments; then the models; then retrieval, which
shares the models' embedder) and stops them in reverse. ``models`` and ``rag`` stay None when
they are off or failed to start; the handlers that need them answer 503 (see
:func:`appliance.nlp.service.models`, :func:`appliance.rag.service.rag_service`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import BaseRoute

from appliance.auth import Authenticator
from appliance.billing.payments import Payments
from appliance.billing.service import Billing
from appliance.components import Components
from appliance.db.database import Database
from appliance.logins import LoginThrottle
from appliance.metrics import Metrics
from appliance.sessions import Sessions
from appliance.settings import Settings

if TYPE_CHECKING:
    # The services above the context's layer (they take the context to reach their part).
    from appliance.nlp.service import Models
    from appliance.rag.service import RagService


@dataclass
class AppContext:
    settings: Settings
    metrics: Metrics
    components: Components
    routes: list[BaseRoute]
    db: Database = field(init=False)
    auth: Authenticator = field(init=False)
    billing: Billing = field(init=False)
    logins: LoginThrottle = field(init=False)
    sessions: Sessions = field(init=False)
    payments: Payments = field(init=False)
    models: Models | None = None
    rag: RagService | None = None
    install_id: str = ""
    openapi: dict[str, Any] | None = None  # the OpenAPI document, built on first request


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
