"""The OpenAPI document, built from the routes' own declarations.

Handlers are decorated with :func:`spec` naming their body/query pydantic models, the model
their success answer is built from, and the statuses they answer (billable handlers with
:func:`appliance.api.billable.billable`, which adds what billing answers). The document is
generated from those declarations and the models' JSON schemas, so it cannot drift from what
the handlers validate and return.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.routing import BaseRoute, Route

from appliance import __version__

F = TypeVar("F", bound=Callable[..., Any])

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error answer has this one shape.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "request_id"],
            "properties": {
                "code": {"type": "string", "examples": ["invalid_payload"]},
                "message": {"type": "string"},
                "request_id": {"type": "string"},
                "details": {
                    "description": "Optional: field errors of a 400, the top-ups of a 402, ..."
                },
            },
        }
    },
}

IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retry with the same key and body (same user) returns the first response"
    " (with `Idempotent-Replayed: true`) and is charged once, also when retries arrive"
    " concurrently; the same key with another body is 422 `idempotency_key_reused`.",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
}

_INT_HEADER = {"schema": {"type": "integer"}}
# Response headers, referenced from the operations that send them.
HEADERS: dict[str, Any] = {
    "X-Request-ID": {
        "description": "The request's id (yours, if you sent a sane X-Request-ID).",
        "schema": {"type": "string"},
    },
    "X-Credits-Remaining": {
        "description": "Credits the caller can still spend after this call.",
        **_INT_HEADER,
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer of an earlier request with the"
        " same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "RateLimit-Limit": {"description": "Burst size of the caller's key.", **_INT_HEADER},
    "RateLimit-Remaining": {"description": "Billable calls left in the burst.", **_INT_HEADER},
    "RateLimit-Reset": {"description": "Seconds until the burst is full again.", **_INT_HEADER},
    "Retry-After": {"description": "Seconds to wait before retrying.", **_INT_HEADER},
}
_RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")

# What each error status means, with the codes this API answers it with.
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    400: "Invalid input (`invalid_payload` with field errors, or a more specific code)",
    401: "No credential, or a bad one (`unauthorized`, `invalid_credentials`)",
    402: "Not enough credits (`quota_exhausted`; `details.top_up` names the ways to top up)",
    403: "Not allowed (`forbidden`; `csrf_failed` for a console request without its token)",
    404: "Not found (`not_found`, `unknown_ticker`)",
    409: "Conflict (`idempotency_in_progress` while a request with the same"
    " Idempotency-Key runs; `user_exists`, `license_already_redeemed`, ...)",
    413: "Request body too large (`payload_too_large`)",
    415: "The body must be JSON (`unsupported_media_type`: send `Content-Type: application/json`)",
    421: "The request's Host is not this appliance's (`host_not_allowed`: not loopback, the"
    " bound address nor one of `allowed_hosts`; refused before authentication)",
    422: "Idempotency-Key reused with another body (`idempotency_key_reused`)",
    429: "Rate limited (`rate_limited`; nothing was spent), or, signing in, too many failed"
    " logins for the account or address (`login_throttled`); see Retry-After",
    502: "The payment provider failed (`payment_provider_error`)",
    503: "Unavailable (`not_ready`: a component is starting or missing; `billing_disabled`;"
    " `index_building`: filings a question needs are being imported or indexed, see"
    " Retry-After; `storage_full`: the disk is full, nothing was written or charged;"
    " `shutting_down`: the server stopped before the answer, nothing was charged)",
}

# Answered by the middleware or the database to any operation, whatever its handler.
_EVERY_OPERATION = (421,)

BILLING_STATUSES = (402, 409, 422, 429)

# The docs' sections, in reading order.
_TAGS = (
    ("filings", "Questions about SEC filings, answered with citations (billable)"),
    ("nlp", "Financial sentiment (billable)"),
    ("financials", "Inline-XBRL facts and statements"),
    ("edgar", "Imported filings, their sections, the symbol map"),
    ("billing", "Credits, usage, top-ups"),
    ("auth", "Tokens, API keys, the console's session"),
    ("users", "Users (administrators)"),
    ("operations", "Health, readiness, versions, metrics, indexing jobs"),
)


@dataclass
class EndpointSpec:
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    auth: bool = True
    statuses: tuple[int, ...] = (200,)
    tags: tuple[str, ...] = ()
    content_type: str = "application/json"
    description: str | None = None
    docs: bool = True  # False: served, but not an API operation (the console's pages)
    # Set by the billable declaration (appliance.api.billable): the meter's endpoint name and
    # how its cost is computed, for the docs.
    billable: str | None = None
    cost: str | None = None
    error_bodies: dict[int, type[BaseModel]] = field(default_factory=dict)


def spec(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    auth: bool = True,
    statuses: tuple[int, ...] = (200,),
    tags: tuple[str, ...] = (),
    content_type: str = "application/json",
    description: str | None = None,
    docs: bool = True,
    error_bodies: dict[int, type[BaseModel]] | None = None,
) -> Callable[[F], F]:
    """Declare an endpoint for the docs and the middleware (``auth=False``: public).

    ``response``: the model the success answer is built from (its schema is documented);
    ``error_bodies``: a status whose body is not the error shape (``/readyz``'s 503).
    """

    def decorate(fn: F) -> F:
        fn.__openapi__ = EndpointSpec(  # type: ignore[attr-defined]
            summary,
            body,
            query,
            response,
            auth,
            statuses,
            tags,
            content_type,
            description,
            docs,
            error_bodies=dict(error_bodies or {}),
        )
        return fn

    return decorate


def endpoint_spec(route: BaseRoute) -> EndpointSpec | None:
    found: EndpointSpec | None = getattr(getattr(route, "endpoint", None), "__openapi__", None)
    return found


class _Schemas:
    """``components.schemas``: each model once, referenced by name."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {"Error": _ERROR_SCHEMA}

    def ref(self, model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            self.components[name] = sub
        self.components[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}


def _path_params(path: str) -> list[dict[str, Any]]:
    params = []
    for name, conv in re.findall(r"{([a-zA-Z_]+)(?::([a-z]+))?}", path):
        schema: dict[str, Any] = {"type": "integer"} if conv == "int" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def example_of(model: type[BaseModel]) -> Any:
    """The model's first documented example (``json_schema_extra={"examples": [...]}``)."""
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    return examples[0] if isinstance(examples, list) and examples else None


def _header_refs(names: tuple[str, ...]) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def billable_cost(cost_doc: str | None, costs: Mapping[str, int]) -> dict[str, Any]:
    """The ``x-billable`` cost fields of a billable declaration, priced by this site's settings.

    A declaration says its cost as ``"<setting> credits per <unit>"`` (``cost_sentiment credits
    per text``): with the settings' value the document says what a call costs here ("2 credits
    per text") and names the setting that changes it, instead of showing the setting's name as
    if it were the price.
    """
    text = cost_doc or "credits"
    setting, _, rest = text.partition(" ")
    if setting not in costs:
        return {"cost": text}
    n = costs[setting]
    unit = re.sub(r"^credits\b", "credit" if n == 1 else "credits", rest)
    return {"cost": f"{n} {unit}", "credits": n, "setting": setting}


def _operation(
    route: Route,
    method: str,
    es: EndpointSpec,
    schemas: _Schemas,
    costs: Mapping[str, int],
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": es.summary,
        "operationId": f"{method.lower()}_{route.name}",
        "tags": list(es.tags),
        "parameters": _path_params(route.path),
        "responses": {},
    }
    description = [es.description] if es.description else []
    path_names = {p["name"] for p in op["parameters"]}
    if es.query is not None:
        qschema = es.query.model_json_schema()
        required = set(qschema.get("required", []))
        for name, prop in qschema.get("properties", {}).items():
            if name in path_names:
                continue
            op["parameters"].append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    if es.body is not None:
        media: dict[str, Any] = {"schema": schemas.ref(es.body)}
        example = example_of(es.body)
        if example is not None:
            media["example"] = example
        op["requestBody"] = {"required": True, "content": {"application/json": media}}
    statuses = set(es.statuses) | set(_EVERY_OPERATION)
    success_headers: tuple[str, ...] = ("X-Request-ID",)
    if es.billable is not None:
        # 503: a full disk (storage_full) or a stop (shutting_down) cuts a billable call off
        # before its answer; either way nothing is kept.
        statuses |= {*BILLING_STATUSES, 503}
        op["parameters"].append(IDEMPOTENCY_KEY)
        # Machine-readable for clients and the /docs page, from the same declaration.
        priced = billable_cost(es.cost, costs)
        op["x-billable"] = {"meter": es.billable, **priced}
        success_headers += ("X-Credits-Remaining", "Idempotent-Replayed", *_RATE_HEADERS)
        where = f", set by `{priced['setting']}`" if "setting" in priced else ""
        description.append(
            f"**Billable** ({priced['cost']}{where}): metered as `{es.billable}` in usage"
            " events. Answered before anything is spent: 400, 401, 429. A failure after the"
            " spend is refunded."
        )
    if es.auth:
        statuses |= {401}
        op["security"] = [{"bearer": []}, {"apiKey": []}]
    else:
        op["security"] = []
    if es.body is not None or es.query is not None:
        statuses |= {400}
    if description:
        op["description"] = "\n\n".join(description)
    for status in sorted(statuses):
        text = _STATUS_TEXT.get(status, "Response")
        if status < 300:
            op["responses"][str(status)] = {
                "description": text,
                "headers": _header_refs(success_headers),
                "content": {es.content_type: {"schema": _success_schema(es, schemas)}},
            }
            continue
        error_model = es.error_bodies.get(status)
        body = schemas.ref(error_model) if error_model else {"$ref": "#/components/schemas/Error"}
        response: dict[str, Any] = {
            "description": text,
            "content": {"application/json": {"schema": body}},
        }
        if status == 429:
            response["headers"] = _header_refs(("Retry-After", *_RATE_HEADERS))
        elif status == 409 and es.billable is not None:
            response["headers"] = _header_refs(("Retry-After",))
        op["responses"][str(status)] = response
    return op


def _success_schema(es: EndpointSpec, schemas: _Schemas) -> dict[str, Any]:
    if es.response is not None:
        return schemas.ref(es.response)
    if es.content_type.startswith("text/"):
        return {"type": "string"}
    return {"type": "object"}


def build_document(
    routes: list[BaseRoute], costs: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """The document for ``routes``; ``costs`` (settings name -> credits, e.g. ``cost_qa``) prices
    the billable operations as this site charges them."""
    costs = costs or {}
    schemas = _Schemas()
    paths: dict[str, Any] = {}
    for route in routes:
        es = endpoint_spec(route)
        if not isinstance(route, Route) or es is None or not es.docs:
            continue
        path = re.sub(r"{([a-zA-Z_]+):[a-z]+}", r"{\1}", route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                route, method, es, schemas, costs
            )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Financial NLP appliance",
            "version": __version__,
            "description": "Sentiment of financial text and questions over SEC filings,"
            " metered in credits. Authenticate with `Authorization: Bearer <api key or access"
            " token>` (or `X-API-Key`). Every answer carries `X-Request-ID`; every error has"
            " the `Error` shape.",
        },
        "tags": [{"name": name, "description": text} for name, text in _TAGS],
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "headers": HEADERS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (apk_...) or an access token from POST /auth/token.",
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }
