"""Parsing request bodies and query strings into pydantic models, with one 400 shape."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from appliance.errors import ApplianceError, InvalidPayload

M = TypeVar("M", bound=BaseModel)


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "error": err["msg"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(exc)
        fields = ", ".join(e["field"] for e in errors)
        raise InvalidPayload(f"invalid request: {fields}", details=errors) from exc


class UnsupportedMediaType(ApplianceError):
    status = 415
    code = "unsupported_media_type"


def require_json(request: Request) -> None:
    """415 unless the body is declared ``application/json``. A browser sends a cross-site
    form or ``text/plain`` POST without asking first; a JSON one needs a CORS preflight,
    which this API never grants, so requiring it keeps other web pages out."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType(
            "send the body as JSON with 'Content-Type: application/json'",
            details=[{"field": "content-type", "error": f"got {media_type or 'none'!r}"}],
        )


async def parse_json(request: Request, model: type[M]) -> M:
    """The request body validated against ``model``; 400 ``invalid_payload`` otherwise."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidPayload(
            f"request body is not valid JSON: {exc}",
            details=[{"field": "body", "error": "malformed JSON"}],
        ) from exc
    except RecursionError as exc:
        # ``[[[[...`` a few thousand deep exhausts the decoder's recursion limit; no request
        # body of this API nests more than a few levels.
        raise InvalidPayload(
            "request body is nested too deeply",
            details=[{"field": "body", "error": "JSON nested too deeply"}],
        ) from exc
    if not isinstance(data, dict):
        raise InvalidPayload(
            "request body must be a JSON object",
            details=[{"field": "body", "error": "expected a JSON object"}],
        )
    return validate(model, data)


def parse_query(request: Request, model: type[M]) -> M:
    return validate(model, dict(request.query_params))
