"""Length-grouped batching and the model locator."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from appliance.nlp.paths import ModelPaths
from appliance.nlp.tokens import plan_batches
from appliance.paths import default_models_dir


def test_batches_hold_equal_lengths_and_cover_every_row_once() -> None:
    rng = np.random.default_rng(0)
    ids = [list(range(1, int(n) + 1)) for n in rng.integers(2, 40, 300)]
    seen: list[int] = []
    for b in plan_batches(ids, max_batch=16, max_batch_tokens=256):
        assert b.input_ids.shape == b.attention_mask.shape
        assert b.attention_mask.all()  # no padding anywhere
        rows, width = b.input_ids.shape
        assert rows <= 16 and (rows == 1 or rows * width <= 256)
        for r, i in enumerate(b.index):
            assert b.input_ids[r].tolist() == ids[i]
        seen += b.index.tolist()
    assert sorted(seen) == list(range(300))


def test_longest_rows_come_first() -> None:
    ids = [[1] * n for n in (3, 9, 5, 9, 1)]
    widths = [b.input_ids.shape[1] for b in plan_batches(ids, 8, 1000)]
    assert widths == [9, 5, 3, 1]


def test_a_row_longer_than_the_budget_still_gets_a_batch() -> None:
    (b,) = list(plan_batches([[7] * 50], max_batch=4, max_batch_tokens=10))
    assert b.input_ids.shape == (1, 50)


def test_locate_prefers_the_given_dir(tmp_path: Path) -> None:
    paths = ModelPaths.locate(tmp_path)
    assert paths.embedder == tmp_path / "minilm-l6-v2"
    assert paths.sentiment == tmp_path / "sentiment"


def test_frozen_app_finds_models_next_to_the_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert default_models_dir() == tmp_path / "models"
    assert ModelPaths.locate().root == tmp_path / "models"


def test_source_checkout_uses_the_repository_models_dir() -> None:
    assert (default_models_dir() / "models.mk").exists()
