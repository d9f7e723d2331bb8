"""The bundled sample corpus: a ticker map and Apple filings, so a fresh install works offline.

``appliance/resources/sample/MANIFEST.json`` names the ticker file (and its vintage) and the
folders to import. :func:`install_sample` only fills what is empty: the ticker map when no
symbol is stored, the filings when none is imported (or always, with ``force``).

:func:`complete_sample` is the first start's step, and it records its own progress (the
``sample_import`` meta row: ``pending`` while it runs, ``done`` after), so an import cut short
by a kill is finished by the next start instead of staying half done: every file it had
stored is skipped, the rest are imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from appliance.db.connection import Connection
from appliance.db.queries import filings as fq
from appliance.db.queries import meta
from appliance.db.queries import symbols as sq
from appliance.edgar.importer import DatabaseLike, ImportReport, Store, import_paths
from appliance.edgar.layout import hints_for
from appliance.edgar.symbols import SymbolLoad, parse_ticker_file, store_symbols
from appliance.paths import resources_dir

__all__ = ["SAMPLE_STATE", "SampleResult", "complete_sample", "install_sample", "sample_dir"]

SAMPLE_STATE = "sample_import"  # meta key: "pending" while the first start imports, then "done"


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
    conn_or_db: Connection | DatabaseLike,
    *,
    force: bool = False,
    resume: bool = False,
    root: Path | None = None,
) -> SampleResult:
    """Load the bundled ticker map and filings where the database has none (idempotent);
    ``resume`` imports the filings even if some exist (those already stored are skipped)."""
    root = root or sample_dir()
    manifest = json.loads((root / "MANIFEST.json").read_text(encoding="utf-8"))
    store = Store(conn_or_db)
    loaded = None
    if force or store.read(sq.count_symbols) == 0:
        tickers = manifest["tickers"]
        parsed = parse_ticker_file((root / tickers["file"]).read_bytes())
        source = f"bundled:{tickers['file']}"
        loaded = store.write(store_symbols, parsed, source, date.fromisoformat(tickers["vintage"]))
    report = None
    if force or resume or store.read(fq.count_filings) == 0:
        report = import_paths(conn_or_db, [root / p for p in manifest["imports"]])
    return SampleResult(symbols=loaded, filings=report)


def _accessions(root: Path) -> set[str]:
    folder = root / "filings"
    return {
        accession
        for path in folder.rglob("*")
        if path.is_file() and (accession := hints_for(path).accession)
    }


def _due(conn: Connection, root: Path) -> bool:
    """Whether an install that never recorded the sample's progress should (still) get it:
    nothing imported yet, or part of the sample (a first start killed before this record
    existed). A corpus of the operator's own without the sample is left alone."""
    if fq.count_filings(conn) == 0:
        return True
    present = [a for a in _accessions(root) if fq.filing_digest(conn, a) is not None]
    return 0 < len(present) < len(_accessions(root))


def complete_sample(
    conn_or_db: Connection | DatabaseLike, *, root: Path | None = None
) -> SampleResult | None:
    """The first start's sample import, resumable; None when it has nothing to do."""
    root = root or sample_dir()
    store = Store(conn_or_db)
    state = store.read(meta.get, SAMPLE_STATE)
    if state == "done":
        return None
    if state is None and not store.read(_due, root):
        store.write(meta.put, SAMPLE_STATE, "done")
        return None
    store.write(meta.put, SAMPLE_STATE, "pending")
    result = install_sample(conn_or_db, resume=True, root=root)
    store.write(meta.put, SAMPLE_STATE, "done")
    return result
