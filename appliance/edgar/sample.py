"""The bundled sample corpus: a ticker map and Apple filings, so a fresh install works offline.

``appliance/resources/sample/MANIFEST.json`` names the ticker file (and its vintage) and the
folders to import. :func:`install_sample` only fills what is empty: the ticker map when no
symbol is stored, the filings when none is imported (or always, with ``force``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from appliance.db.database import SyncDatabase
from appliance.db.queries import filings as fq
from appliance.db.queries import symbols as sq
from appliance.edgar.importer import ImportReport, import_paths
from appliance.edgar.symbols import SymbolLoad, parse_ticker_file, store_symbols
from appliance.paths import resources_dir

__all__ = ["SampleResult", "install_sample", "sample_dir"]


@dataclass
class SampleResult:
    symbols: SymbolLoad | None
    filings: ImportReport | None

    def public(self) -> dict[str, Any]:
        return {
            "symbols": self.symbols.public() if self.symbols else None,
            "filings": self.filings.counts() if self.filings else None,
        }


def sample_dir() -> Path:
    return resources_dir() / "sample"


def install_sample(
    store: SyncDatabase, *, force: bool = False, root: Path | None = None
) -> SampleResult:
    """Load the bundled ticker map and filings where the database has none (idempotent)."""
    root = root or sample_dir()
    manifest = json.loads((root / "MANIFEST.json").read_text(encoding="utf-8"))
    loaded = None
    if force or store.read(sq.count_symbols) == 0:
        tickers = manifest["tickers"]
        parsed = parse_ticker_file((root / tickers["file"]).read_bytes())
        source = f"bundled:{tickers['file']}"
        loaded = store.write(store_symbols, parsed, source, date.fromisoformat(tickers["vintage"]))
    report = None
    if force or store.read(fq.count_filings) == 0:
        report = import_paths(store, [root / p for p in manifest["imports"]])
    return SampleResult(symbols=loaded, filings=report)
