"""Where the model artifacts live, and a clear error when they are missing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.errors import NotReady
from appliance.paths import default_models_dir

EMBEDDER_DIR = "minilm-l6-v2"
PASSAGE_ENCODER_DIR = "passage-encoder"
SENTIMENT_DIR = "sentiment"
RERANKER_DIR = "reranker"
READER_DIR = "all-mpnet-base-v2"


class ModelMissing(NotReady):
    """A model artifact is not on disk (``make models`` builds the embedder)."""

    code = "model_missing"


@dataclass(frozen=True)
class ModelPaths:
    """The artifact locations under one models directory (``settings.models_dir``)."""

    root: Path

    @classmethod
    def locate(cls, models_dir: Path | str | None = None) -> ModelPaths:
        return cls(Path(models_dir) if models_dir is not None else default_models_dir())

    @property
    def embedder(self) -> Path:
        return self.root / EMBEDDER_DIR

    @property
    def passage_encoder(self) -> Path:
        return self.root / PASSAGE_ENCODER_DIR

    @property
    def sentiment(self) -> Path:
        return self.root / SENTIMENT_DIR

    @property
    def reranker(self) -> Path:
        return self.root / RERANKER_DIR

    @property
    def reader(self) -> Path:
        return self.root / READER_DIR


def require(path: Path, hint: str) -> Path:
    """``path`` if it exists; raises :class:`ModelMissing` naming the fix otherwise."""
    if not path.exists():
        raise ModelMissing(f"model artifact {path} is missing ({hint})")
    return path


def read_json(path: Path, hint: str) -> dict[str, Any]:
    """A JSON object from a model directory; raises :class:`ModelMissing` if absent."""
    data = json.loads(require(path, hint).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ModelMissing(f"{path} is not a JSON object ({hint})")
    return data
