"""The OpenAPI document, built from the routes' own declarations.

Handlers are decorated with :func:`spec` naming their body/query pydantic models and the
statuses they answer; the document is generated from those and the models' JSON schemas, so
it cannot drift from what the handlers validate.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.routing import BaseRoute, Route

from appliance import __version__

F = TypeVar("F", bound=Callable[..., Any])

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "request_id"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "request_id": {"type": "string"},
                "details": {},
            },
        }
    },
}

_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retry with the same key and body returns the first response and is"
    " charged once.",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
}

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Invalid payload",
    401: "Unauthorized",
    402: "Quota exhausted",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    422: "Idempotency key reused",
    429: "Rate limited",
    503: "Unavailable",
}


@dataclass
class EndpointSpec:
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    auth: bool = True
    statuses: tuple[int, ...] = (200,)
    tags: tuple[str, ...] = ()
    content_type: str = "application/json"
    extra: dict[str, Any] = field(default_factory=dict)
    billable: bool = False


def spec(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    auth: bool = True,
    statuses: tuple[int, ...] = (200,),
    tags: tuple[str, ...] = (),
    content_type: str = "application/json",
    billable: bool = False,
) -> Callable[[F], F]:
    """``billable``: metered through ``Billing.run``, so the operation also documents the
    ``Idempotency-Key`` header and the 402/409/422/429 answers of billing."""

    def decorate(fn: F) -> F:
        fn.__openapi__ = EndpointSpec(  # type: ignore[attr-defined]
            summary, body, query, auth, statuses, tags, content_type, billable=billable
        )
        return fn

    return decorate


def _ref_schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _path_params(path: str) -> list[dict[str, Any]]:
    params = []
    for name, conv in re.findall(r"{([a-zA-Z_]+)(?::([a-z]+))?}", path):
        schema: dict[str, Any] = {"type": "integer"} if conv == "int" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def build_document(routes: list[BaseRoute]) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        endpoint_spec: EndpointSpec | None = getattr(route.endpoint, "__openapi__", None)
        if endpoint_spec is None:
            continue
        path = re.sub(r"{([a-zA-Z_]+):[a-z]+}", r"{\1}", route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            op: dict[str, Any] = {
                "summary": endpoint_spec.summary,
                "operationId": f"{method.lower()}_{route.name}",
                "tags": list(endpoint_spec.tags),
                "parameters": _path_params(route.path),
                "responses": {},
            }
            if endpoint_spec.query is not None:
                qschema = endpoint_spec.query.model_json_schema()
                required = set(qschema.get("required", []))
                for name, prop in qschema.get("properties", {}).items():
                    op["parameters"].append(
                        {"name": name, "in": "query", "required": name in required, "schema": prop}
                    )
            if endpoint_spec.body is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {"schema": _ref_schema(endpoint_spec.body, components)}
                    },
                }
            statuses = set(endpoint_spec.statuses)
            if endpoint_spec.billable:
                statuses |= {402, 409, 422, 429}
                op["parameters"].append(_IDEMPOTENCY_KEY)
            if endpoint_spec.auth:
                statuses |= {401}
                op["security"] = [{"bearer": []}, {"apiKey": []}]
            if endpoint_spec.body is not None or endpoint_spec.query is not None:
                statuses |= {400}
            for status in sorted(statuses):
                text = _STATUS_TEXT.get(status, "Response")
                if status < 300:
                    op["responses"][str(status)] = {
                        "description": text,
                        "content": {endpoint_spec.content_type: {}},
                    }
                else:
                    op["responses"][str(status)] = {
                        "description": text,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    }
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Financial NLP appliance", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


DOCS_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Appliance API</title>
<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em}
code{background:#f3f3f3;padding:0 .3em}h2{border-bottom:1px solid #ddd}
.op{margin:.6em 0}.m{display:inline-block;width:4.5em;font-weight:bold}</style></head>
<body><h1>Financial NLP appliance API</h1>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>.
Authenticate with <code>Authorization: Bearer &lt;api key or token&gt;</code>.</p>
<div id="ops">Loading…</div>
<script>
fetch('/openapi.json').then(r => r.json()).then(doc => {
  const out = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const codes = Object.keys(op.responses).join(', ');
      out.push(`<div class="op"><span class="m">${method.toUpperCase()}</span>` +
        `<code>${path}</code> — ${op.summary} <small>(${codes})</small></div>`);
    }
  }
  document.getElementById('ops').innerHTML = out.join('');
});
</script></body></html>
"""
