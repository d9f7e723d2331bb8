"""Response helpers shared by the handlers."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response


class JSON(Response):
    """Compact JSON, UTF-8, no NaN (a NaN would be invalid JSON for clients)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return render_json(content)


def render_json(content: Any) -> bytes:
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def reply(
    model: type[BaseModel],
    data: Any,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> JSON:
    """A JSON answer built through its response model (the model the docs show), so a field
    the model does not declare never leaks out and a missing one fails the tests."""
    return JSON(as_json(model, data), status_code=status_code, headers=headers)


def as_json(model: type[BaseModel], data: Any) -> dict[str, Any]:
    # exclude_unset: an optional field the handler did not give is left out, not sent as null
    # (only fields with defaults can be unset, and those are optional in the schema).
    return model.model_validate(data).model_dump(mode="json", exclude_unset=True)
