"""Response helpers shared by the handlers."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response


class JSON(Response):
    """Compact JSON, UTF-8, no NaN (a NaN would be invalid JSON for clients)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode()
