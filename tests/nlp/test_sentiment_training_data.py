"""The labelled formal training texts never leak the formal evaluation set into training."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "models"))

from labelled_set import API_PROBES, OUT, HeldOut  # noqa: E402
from sentiment_data import LABELS, load_labelled  # noqa: E402
from sentiment_pool import exclude_texts  # noqa: E402

from appliance.nlp.sentences import split_sentences  # noqa: E402


def rows(name: str) -> list[dict[str, str]]:
    lines = (OUT / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def test_no_training_text_is_or_nearly_is_an_evaluation_text() -> None:
    held = HeldOut(exclude_texts())
    texts, _, _ = load_labelled()
    assert len(texts) > 4000
    leaked = [t for t in texts if held.exact(t) or held.near_duplicate(t)]
    assert leaked == []


def test_no_training_text_is_a_text_the_http_regression_tests_score() -> None:
    # Near copies are dropped when a batch is added (labelled_set.py --add); here the exact
    # check, since a probe's few word 4-grams are shared by honest sentences too.
    api_tests = (REPO / "tests" / "test_sentiment_api.py").read_text(encoding="utf-8")
    probes = HeldOut(list(API_PROBES))
    assert all(" ".join(p.split()[:4]) in api_tests for p in API_PROBES)
    texts, _, _ = load_labelled()
    assert [t for t in texts if probes.exact(t)] == []


def test_the_guard_catches_a_reworded_evaluation_text() -> None:
    held = HeldOut(exclude_texts())
    some = exclude_texts()[5]
    assert held.exact(some)
    words = some.split()
    assert held.near_duplicate(" ".join(["Meanwhile,", *words[:-1], "overall."]))
    assert not held.near_duplicate("Quarterly shipments of the widget line were unchanged.")


def test_labels_ids_and_styles_are_well_formed() -> None:
    for name in ("filing_labels.jsonl", "written.jsonl"):
        data = rows(name)
        assert len({r["id"] for r in data}) == len(data), name
        assert {r["label"] for r in data} == set(LABELS), name
    assert {r["annotator"] for r in rows("filing_labels.jsonl")} == {"a", "b"}


def test_loader_keeps_one_sentence_texts_only() -> None:
    texts, y, kinds = load_labelled()
    assert len(texts) == len(y) == len(kinds)
    assert all(len(split_sentences(t)) == 1 for t in texts)
    multi = {r["text"] for r in rows("written.jsonl") if len(split_sentences(r["text"])) > 1}
    assert len(multi) > 100 and not multi & set(texts)
