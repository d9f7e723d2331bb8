"""The distilled passage encoder (committed under models/passage-encoder): it embeds chunks into
the space all-MiniLM-L6-v2 embeds questions in, so a MiniLM question finds the passage that
answers it; the ``passage_encoder`` setting picks it or MiniLM itself (the default)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from appliance.nlp.paths import ModelPaths
from appliance.nlp.service import open_passage_encoder
from appliance.settings import load_settings
from tests.nlp.test_embedder import pinned_sums, sha256

# (question, the passage that answers it, a passage of the same kind of filing that does not).
# Written for this test, not taken from the training filings.
TRIPLES = [
    (
        "How many people does the company employ?",
        "As of December 31, 2023, we had approximately 41,000 full-time employees, of whom"
        " 23,000 were located in the United States.",
        "We lease our corporate headquarters and several distribution centers under operating"
        " leases expiring at various dates through 2031.",
    ),
    (
        "What was the effective tax rate?",
        "Our effective tax rate was 18.2% in fiscal 2023 compared with 21.5% in fiscal 2022,"
        " primarily due to a higher benefit from research credits.",
        "Competition in the markets for our products is intense and characterized by rapid"
        " technological change and price reductions.",
    ),
    (
        "Is the company involved in any patent litigation?",
        "In March 2022 a competitor filed a complaint in the District of Delaware alleging that"
        " several of our products infringe five of its patents; we believe the claims lack merit.",
        "Revenue from services increased 9% year over year, driven by subscription renewals and"
        " higher average selling prices.",
    ),
    (
        "How much did the company spend on share repurchases?",
        "During the year we repurchased 12.4 million shares of our common stock for $2.1 billion"
        " under the program authorized by the Board in 2021.",
        "Our manufacturing relies on a limited number of suppliers located primarily in Asia,"
        " some of which are single-source suppliers.",
    ),
]


def test_a_minilm_question_finds_the_passage_the_encoder_embedded(
    embedder: Any, passages: Any
) -> None:
    assert passages.dims == embedder.dims == 384
    assert passages.fingerprint != embedder.fingerprint
    questions = embedder.embed([q for q, _, _ in TRIPLES])
    answers = passages.embed([a for _, a, _ in TRIPLES])
    others = passages.embed([o for _, _, o in TRIPLES])
    right = (questions * answers).sum(1)
    wrong = (questions * others).sum(1)
    assert (right > wrong + 0.05).all(), (right, wrong)
    # Each question ranks its own answer first among all the passages.
    scores = questions @ np.vstack([answers, others]).T
    assert scores.argmax(1).tolist() == list(range(len(TRIPLES)))


def test_it_stays_in_minilms_space(embedder: Any, passages: Any) -> None:
    texts = [t for _, a, o in TRIPLES for t in (a, o)]
    cos = (embedder.embed(texts) * passages.embed(texts)).sum(1)
    assert cos.mean() > 0.8 and cos.min() > 0.6, cos
    # Unit vectors, as the vector index expects.
    assert np.allclose(np.linalg.norm(passages.embed(texts), axis=1), 1.0, atol=1e-3)


def test_the_setting_picks_the_encoder(tmp_path: Path, embedder: Any) -> None:
    default = load_settings(data_dir=tmp_path, access_log=False)
    assert default.passage_encoder == "embedder"
    assert open_passage_encoder(default, embedder) is embedder  # one model in memory, not two
    assert open_passage_encoder(default).fingerprint == embedder.fingerprint
    distilled = load_settings(data_dir=tmp_path, access_log=False, passage_encoder="distilled")
    encoder = open_passage_encoder(distilled, embedder)
    assert encoder.name.startswith("minilm-l3-passages@") and encoder is not embedder


def test_the_committed_artifacts_are_the_pinned_ones() -> None:
    directory = ModelPaths.locate().passage_encoder
    manifest = json.loads((directory / "manifest.json").read_text())
    pinned = pinned_sums()
    assert set(manifest["files"]) == {"model.int8.onnx", "tokenizer.json"}
    for name, info in manifest["files"].items():
        digest = sha256(directory / name)
        assert digest == info["sha256"] == pinned[f"models/passage-encoder/{name}"], name
    assert manifest["layers"] == [0, 3, 5] and manifest["dims"] == 384
