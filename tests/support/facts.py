"""Shared data for the facts tests: the shared filings that carry inline XBRL, imported once.

Also reads the hand-built fixture (tests/data/xbrl_facts_fixture.json): values typed from the
rendered statements, never from the parser.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from appliance.bootstrap import initialize
from appliance.db.connection import connect
from appliance.edgar.importer import ImportReport, import_paths
from appliance.settings import Settings
from tests.support import rag as rag_support
from tests.support.edgar_data import FILINGS

FIXTURE = Path(__file__).parents[1] / "data" / "xbrl_facts_fixture.json"
_SCALES = {"units": 0, "thousands": 3, "millions": 6, "billions": 9}


def fixture() -> dict[str, Any]:
    filings: dict[str, Any] = json.loads(FIXTURE.read_text())["filings"]
    return filings


def xbrl_files() -> list[Path]:
    return [FILINGS / entry["file"] for entry in fixture().values()]


def printed_value(printed: str, unit: str) -> Decimal:
    """A statement's printed figure in full: "(120,686)" in millions -> -120686000000."""
    negative = printed.startswith("(")
    digits = printed.strip("()").replace(",", "")
    value = Decimal(digits).scaleb(_SCALES[unit])
    return -value if negative else value


def make_settings(data_dir: Path, **extra: Any) -> Settings:
    return rag_support.make_settings(data_dir, load_models=False, **extra)


def build_facts_data(data_dir: Path) -> ImportReport:
    settings = make_settings(data_dir)
    initialize(settings)
    conn = connect(settings.db_path)
    try:
        return import_paths(conn, xbrl_files())
    finally:
        conn.close()


def make_admin(settings: Settings, credits: int = 10_000) -> str:
    """An admin API key on a copied data dir (the template's own key was never kept)."""
    from appliance import accounts
    from appliance.cli.common import write

    created = write(
        settings, accounts.create_user, "ops@example.com", None, is_admin=True, credits=credits
    )
    return created.api_key
