"""Shared fixtures for retrieval tests: the real embedder and a small real index.

The index holds Apple's bundled sample filings (two 10-Ks, three 10-Qs) but only a few
Items of each (Business, Properties, Cybersecurity, Legal Proceedings, Controls), so it
builds in seconds on 2 cores; the full corpus is indexed by ``make bench``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from appliance.bootstrap import initialize
from appliance.db.connection import Connection, connect, transaction
from appliance.edgar.sample import install_sample
from appliance.rag.index import Indexer
from appliance.settings import Settings, load_settings

ITEMS = ("1", "2", "1C", "part2_item1", "part1_item4")
AAPL_10K_2024 = "0000320193-24-000123"
AAPL_10K_2025 = "0000320193-25-000079"
AAPL_10Q_2024_08 = "0000320193-24-000081"
AAPL_10Q_2025_05 = "0000320193-25-000057"
AAPL_10Q_2025_08 = "0000320193-25-000073"


def make_settings(data_dir: Path, **extra: Any) -> Settings:
    return load_settings(
        data_dir=data_dir,
        access_log=False,
        edgar_sample_on_first_start=False,
        index_on_start=False,
        **extra,
    )


def run_write(conn: Connection, fn: Any, *args: Any) -> Any:
    with transaction(conn):
        return fn(conn, *args)


def build_index(data_dir: Path, embedder: Any, items: tuple[str, ...] = ITEMS) -> Settings:
    settings = make_settings(data_dir)
    initialize(settings)
    conn = connect(settings.db_path)
    try:
        install_sample(conn)
        Indexer(embedder).run(
            lambda fn, *a: fn(conn, *a), lambda fn, *a: run_write(conn, fn, *a), items=items
        )
    finally:
        conn.close()
    return settings


def copy_data_dir(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest)
    return dest
