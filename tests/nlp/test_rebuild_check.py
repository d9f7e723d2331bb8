"""The rebuild check `make sentiment-model` ends with: bytes, then figures within tolerance."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "models"))

from rebuild_check import TOLERANCE, compare, same_recipe  # noqa: E402

COMMITTED = json.loads((REPO / "models" / "sentiment" / "manifest.json").read_text())


def rebuilt_with(**changes: object) -> dict[str, object]:
    out = copy.deepcopy(COMMITTED)
    out["files"]["model.int8.onnx"]["sha256"] = "0" * 64  # another machine's bytes
    for dotted, value in changes.items():
        node = out
        *path, last = dotted.split("__")
        for key in path:
            node = node[key]
        node[last] = value
    return out


def test_identical_bytes_reproduce() -> None:
    lines, ok = compare(COMMITTED, copy.deepcopy(COMMITTED))
    assert ok
    assert "model.int8.onnx: identical bytes" in lines


def test_other_bytes_with_figures_inside_the_tolerance_reproduce_and_say_how_far() -> None:
    int8 = COMMITTED["figures"]["tweets"]["int8"]["accuracy"]
    rebuilt = rebuilt_with(figures__tweets__int8__accuracy=int8 + TOLERANCE / 2)
    lines, ok = compare(COMMITTED, rebuilt)
    assert ok
    assert "model.int8.onnx: bytes differ" in lines
    assert any(x.startswith("tweets dev accuracy (int8)") and "moved 0.0050" in x for x in lines)


def test_a_figure_moved_past_the_tolerance_is_not_a_reproduction() -> None:
    formal = COMMITTED["dev_selection"]["formal"]["accuracy"]
    rebuilt = rebuilt_with(dev_selection__formal__accuracy=formal - 2 * TOLERANCE)
    lines, ok = compare(COMMITTED, rebuilt)
    assert not ok
    assert lines[-1].startswith("a figure moved more than")


def test_another_recipe_is_not_a_rebuild() -> None:
    other = dict(COMMITTED["recipe"], epochs=COMMITTED["recipe"]["epochs"] + 1)
    rebuilt = rebuilt_with(recipe=other)
    assert not same_recipe(COMMITTED, rebuilt)
    assert compare(COMMITTED, rebuilt) == (
        ["not a rebuild: the committed model has another recipe"],
        False,
    )


def test_recipe_fields_added_since_the_commit_do_not_break_the_match() -> None:
    newer = dict(COMMITTED["recipe"], some_new_field=1.0)
    assert same_recipe(COMMITTED, rebuilt_with(recipe=newer))
