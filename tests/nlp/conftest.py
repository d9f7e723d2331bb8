"""Fixtures with the real models from ``models/`` (``make models`` builds the embedder)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from appliance.nlp.embedder import Embedder
from appliance.nlp.paths import ModelPaths

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="session")
def model_paths() -> ModelPaths:
    paths = ModelPaths.locate(os.environ.get("APPLIANCE_MODELS_DIR"))
    if not (paths.embedder / "manifest.json").exists():
        pytest.fail(f"embedder not built under {paths.embedder}: run `make models` first")
    return paths


@pytest.fixture(scope="session")
def embedder_int8(model_paths: ModelPaths) -> Embedder:
    return Embedder(model_paths.embedder, quantized=True, threads=2)


@pytest.fixture(scope="session")
def embedder_fp32(model_paths: ModelPaths) -> Embedder:
    return Embedder(model_paths.embedder, quantized=False, threads=2)


@pytest.fixture(scope="session")
def reference() -> tuple[list[str], np.ndarray]:
    """Real filing text and its sentence-transformers vectors (models/reference_vectors.py)."""
    meta = json.loads((DATA / "embedder_reference.json").read_text(encoding="utf-8"))
    return list(meta["texts"]), np.load(DATA / "embedder_reference.npy")
