"""The committed sentiment model: checksums, clear cases, aggregation, dev-set quality."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from appliance.nlp.paths import ModelMissing, ModelPaths
from appliance.nlp.sentiment import SentimentModel

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "models"))

from sentiment_data import (  # noqa: E402
    LABELS,
    ece,
    load_formal_set,
    load_tweets,
    macro_f1,
    stratified_split,
)

# Measured figures are in models/sentiment/MODEL_CARD.md; these sit a little under them.
TWEETS_FLOOR = 0.85  # 0.860 (1.0.0: 0.865)
FORMAL_ACC_FLOOR = 0.84  # 0.861 (1.0.0: 0.634)
FORMAL_F1_FLOOR = 0.82  # 0.849 (1.0.0: 0.631)
ECE_CEILING = 0.06  # 0.029 (1.0.0: 0.108)


@pytest.fixture(scope="module")
def model(model_paths: ModelPaths) -> SentimentModel:
    return SentimentModel(model_paths.sentiment, threads=2)


def test_committed_artifacts_match_pinned_checksums(model_paths: ModelPaths) -> None:
    pinned = {}
    for line in (REPO / "models" / "SHA256SUMS").read_text().splitlines():
        if line.startswith("models/") or (line and line[0] in "0123456789abcdef"):
            digest, name = line.split(maxsplit=1)
            pinned[name] = digest
    manifest = json.loads((model_paths.sentiment / "manifest.json").read_text())
    for name in ("model.int8.onnx", "tokenizer.json"):
        path = model_paths.sentiment / name
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == pinned[f"models/sentiment/{name}"], name
        assert digest == manifest["files"][name]["sha256"], name
    assert (model_paths.sentiment / "model.int8.onnx").stat().st_size <= 30 * 1024 * 1024


def test_clear_cases(model: SentimentModel) -> None:
    pos, neg = model.score(
        [
            "Operating profit rose to EUR 13.1 mn",
            "The company reported a net loss and cut its dividend",
        ]
    )
    assert pos.label == "positive", pos.scores
    assert neg.label == "negative", neg.scores


def test_scores_are_probabilities_and_label_is_argmax(model: SentimentModel) -> None:
    (r,) = model.score(["Quarterly revenue was flat at $2.1 billion."])
    assert set(r.scores) == set(LABELS)
    assert sum(r.scores.values()) == pytest.approx(1.0, abs=1e-4)
    assert r.label == max(r.scores, key=r.scores.__getitem__)


def test_long_text_is_scored_per_sentence_and_aggregated(model: SentimentModel) -> None:
    text = (
        "Net sales increased 18% to EUR 167.8 mn, and operating profit more than doubled. "
        "The board raised the dividend to EUR 0.50 per share. "
        "Inc. and U.S. abbreviations must not split: Apple Inc. sells in the U.S. market. "
        + "The company is headquartered in Espoo, Finland. "
        * 12
    )
    (r,) = model.score([text])
    assert len(r.sentences) == 15
    assert r.sentences[0].label == "positive"
    assert r.sentences[2].text.startswith("Inc. and U.S.")
    # The aggregate is the token-weighted mean of the sentence scores.
    rows = np.array([[s.scores[k] for k in LABELS] for s in r.sentences])
    assert not np.allclose(rows.mean(0), rows[0])
    assert r.label in LABELS


def test_probabilities_do_not_depend_on_batch(model: SentimentModel) -> None:
    sents = [
        "Net sales increased 5%.",
        "The company cut 300 jobs after orders fell sharply.",
        "The meeting will be held in Oslo.",
        "Margins improved.",
    ]
    alone = np.vstack([model.probabilities([s]) for s in sents])
    together = model.probabilities(sents)
    assert np.abs(alone - together).max() < 1e-5


def test_empty_text_is_neutral_without_sentences(model: SentimentModel) -> None:
    (r,) = model.score(["   "])
    assert r.label == "neutral" and r.sentences == []
    assert model.score([]) == []


def test_name_carries_version(model: SentimentModel) -> None:
    name, _, version = model.name.partition("@")
    assert name and version.count(".") == 2


def test_quality_on_dev_sets(model: SentimentModel) -> None:
    """The shipped int8 model on the tweets' dev split and the blind-annotated formal dev set
    (scored as the API scores it: per sentence, aggregated). Floors sit a little under the
    figures in the model card, so a regression fails here; the test half is not read.
    """
    texts, y = load_tweets()
    _, dev = stratified_split(y)
    pred = model.probabilities([texts[i] for i in dev]).argmax(1)
    assert (pred == y[dev]).mean() >= TWEETS_FLOOR
    formal, fy, _ = load_formal_set("dev")
    results = model.score(formal)
    fpred = np.array([LABELS.index(r.label) for r in results])
    assert (fpred == fy).mean() >= FORMAL_ACC_FLOOR
    assert macro_f1(fy, fpred) >= FORMAL_F1_FLOOR


def test_scores_are_calibrated_on_the_formal_dev_set(model: SentimentModel) -> None:
    """Temperature scaling: confidence tracks accuracy (expected calibration error)."""
    formal, fy, _ = load_formal_set("dev")
    probs = np.array([[r.scores[k] for k in LABELS] for r in model.score(formal)])
    assert ece(probs, fy) <= ECE_CEILING


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing):
        SentimentModel(tmp_path)
