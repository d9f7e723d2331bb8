"""All SQL of the appliance, as plain functions taking a connection first."""

from __future__ import annotations

from typing import Any


def row_fields(row: Any) -> dict[str, Any]:
    """A result row as ``{column: value}``, to build a dataclass whose fields are the columns.

    (A sqlean.Row iterates over its values, not its keys.)
    """
    return dict(zip(row.keys(), tuple(row), strict=True))
