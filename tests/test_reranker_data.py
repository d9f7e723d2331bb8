"""The reranker's question supervision (models/reranker_data.py): positives hold an evidence
phrase, negatives never do, and no question about a blind test company is ever trained on."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLIND = ROOT / "tests" / "data" / "blind" / "qa_blind.jsonl"


@pytest.fixture(scope="module")
def data() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "reranker_data", ROOT / "models" / "reranker_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _passages(data: ModuleType) -> list[object]:
    P = data.Passage
    filler = [
        "Revenue from services grew because of advertising and cloud services in every region.",
        "The services segment revenue depends on advertising partners and payment services.",
        "We expect services revenue to fluctuate with advertising and licensing revenue.",
        "Services gross margin varied with the mix of services and advertising revenue.",
        "Our revenue recognition policy for services bundles is described in Note 2.",
        "Operating expenses rose with research and development headcount.",
        "Cash and marketable securities were held in U.S. treasury securities.",
        "The weather was nice.",
    ]
    out = [P(("A-1", "7", i), text) for i, text in enumerate(filler)]
    out.append(P(("A-1", "7", 99), "Services net sales were $26,645 million in the quarter."))
    out.append(P(("B-2", "7", 0), "Services net sales were $26,645 million, another filing."))
    return out


def test_question_groups_pair_the_evidence_with_negatives_that_lack_it(data: ModuleType) -> None:
    passages = _passages(data)
    q = data.Question("How much services revenue?", ("Services net sales were $26,645",), ("A-1",))
    groups = data.question_groups(passages, [q], 2)
    assert len(groups) == 2
    negatives = [n for g in groups for n in g.negatives]
    for g in groups:
        assert g.kind == "question" and g.query == q.query
        assert "$26,645" in g.positive and "another filing" not in g.positive
        assert len(g.negatives) == data.NEGATIVES
        assert all("26,645" not in n for n in g.negatives)
    assert len(set(negatives)) == len(negatives)  # the sets of negatives are disjoint
    # the hardest negatives (most words shared with the question) come first
    assert "services" in groups[0].negatives[0].lower()
    assert "weather" not in " ".join(groups[0].negatives)


def test_a_question_whose_evidence_is_not_in_its_filing_gives_no_group(data: ModuleType) -> None:
    passages = _passages(data)
    missing = data.Question("Headcount?", ("164,000 full-time",), ("A-1",))
    unknown = data.Question("Services?", ("Services net sales",), ("Z-9",))
    assert data.question_groups(passages, [missing, unknown], 3) == []


def test_no_blind_test_question_is_ever_trained_on(data: ModuleType) -> None:
    blind = [json.loads(line) for line in BLIND.read_text().splitlines()]
    tune = {
        e["accession"]: q["expected_company_cik"]
        for q in blind
        if q["split"] == "tune"
        for e in q.get("evidence_at") or []
    }
    # Every filing the tune questions name, attributed to its company; a test-company filing
    # in the map must still not let a test question through.
    test_filings = {
        e["accession"]: 1318605
        for q in blind
        if q["split"] == "test"
        for e in q.get("evidence_at") or []
    }
    filings = {**test_filings, **tune}
    train, held = data.load_questions(filings, set(tune.values()))
    test_questions = {q["question"] for q in blind if q["split"] == "test"}
    asked = {q.query for q in train + held}
    assert train and not asked & test_questions
    # A company-split run: questions about the other company are held out, not trained on.
    apple_only, held_out = data.load_questions(filings, {320193})
    assert apple_only and held_out
    assert all(filings[a] == 320193 for q in apple_only for a in q.accessions)
    assert all(any(filings[a] != 320193 for a in q.accessions) for q in held_out)
