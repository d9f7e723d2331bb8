"""Shared fixtures for retrieval tests: the real embedder and a small real index.

The index holds Apple's bundled sample filings (two 10-Ks, three 10-Qs) but only a few
Items of each (Business, Properties, Cybersecurity, Legal Proceedings, Controls), so it
builds in seconds on 2 cores; the full corpus is indexed by ``make bench``.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from appliance.bootstrap import initialize
from appliance.db.database import open_session
from appliance.edgar.sample import install_sample
from appliance.rag.index import Indexer
from appliance.rag.reading import PassageVectors
from appliance.settings import Settings, load_settings

ITEMS = ("1", "2", "1C", "part2_item1", "part1_item4")
AAPL_10K_2024 = "0000320193-24-000123"
AAPL_10K_2025 = "0000320193-25-000079"
AAPL_10Q_2024_08 = "0000320193-24-000081"
AAPL_10Q_2025_05 = "0000320193-25-000057"
AAPL_10Q_2025_08 = "0000320193-25-000073"


def make_settings(data_dir: Path, **extra: Any) -> Settings:
    quiet = {
        "access_log": False,
        "edgar_sample_on_first_start": False,
        "index_on_start": False,
        "index_new_imports": False,
    }
    return load_settings(data_dir=data_dir, **{**quiet, **extra})


def build_index(
    data_dir: Path, embedder: Any, reader: Any = None, items: tuple[str, ...] = ITEMS
) -> Settings:
    """Import the sample and index ``items``; with ``reader``, read its passage vectors ahead."""
    settings = make_settings(data_dir)
    initialize(settings)
    with open_session(settings) as db:
        install_sample(db)
        Indexer(embedder).run(db, items=items)
        if reader is not None:
            PassageVectors(reader).fill_all(db)
    return settings


def copy_data_dir(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest)
    return dest


class CountingEncoder:
    """A stand-in reader with vectors from a hash of the text; counts what it reads."""

    name = "counting@test"
    fingerprint = "counting:1"

    def __init__(self) -> None:
        self.read: list[str] = []

    def encode(self, passages: Sequence[str]) -> np.ndarray:
        self.read += passages
        rows = []
        for p in passages:
            seed = int.from_bytes(hashlib.sha256(p.encode()).digest()[:4], "big")
            v = np.random.default_rng(seed).standard_normal(768).astype(np.float32)
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows) if rows else np.zeros((0, 768), np.float32)

    def score(
        self,
        question: str,
        passages: Sequence[str],
        known: Mapping[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        known = known or {}
        q = self.encode([question])[0]
        return np.array(
            [float((known[p] if p in known else self.encode([p])[0]) @ q) for p in passages],
            np.float32,
        )
