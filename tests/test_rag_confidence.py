"""The Q&A's refusal rules, its confidence features, and the index-building verdict."""

from __future__ import annotations

import math

import pytest

from appliance.db.queries import jobs as jq
from appliance.db.queries.progress import Pending
from appliance.rag.confidence import FITTED, Features, Judge, content_terms, refusal_rule
from appliance.rag.progress import IndexState
from appliance.rag.service import indexes_unasked
from appliance.settings import load_settings


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("?????", "empty"),
        ("Thanks, that's all for now.", "empty"),
        ("Should I buy Tesla shares right now?", "advice"),
        ("Should I sell my Apple shares before the next iPhone launch?", "advice"),
        ("Can you predict NVIDIA's earnings per share for next quarter?", "prediction"),
        ("What will inflation be next year?", "prediction"),
        ("Who will be Apple's CEO in 2035?", "prediction"),
        ("What is Tesla's stock price today?", "live_data"),
        ("What was Apple's revenue in fiscal 2027?", "period"),
    ],
)
def test_questions_no_filing_can_answer(question: str, reason: str) -> None:
    refusal = refusal_rule(question, 2025)
    assert refusal is not None and refusal.reason == reason and refusal.message


@pytest.mark.parametrize(
    "question",
    [
        "How many employees does Apple have?",
        "What was Apple's revenue in fiscal 2025?",
        "What was NVIDIA's revenue in fiscal 2026?",  # a 10-Q of FY2026 is filed in 2025
        "How will the new tariffs affect Apple's margins?",  # filings discuss expected effects
        "What did Apple say about its stock repurchase program?",
        "Where is NVIDIA headquartered?",
    ],
)
def test_answerable_questions_pass_the_rules(question: str) -> None:
    assert refusal_rule(question, 2025) is None


def test_content_terms_leave_out_question_words_and_the_company() -> None:
    assert content_terms("How many employees does Apple have?", "Apple Inc. AAPL") == ["employees"]
    assert content_terms("What is the latest 10-K?") == []
    assert content_terms("Compare gross margin, gross margins") == ["gross", "margin"]


def _features(question: str, passage: str, df: dict[str, int]) -> Features:
    return Judge().features(
        question,
        "",
        [passage, "unrelated text about the weather"],
        [0.6, 0.3],
        agree=True,
        named=True,
        doc_freq=lambda t: df.get(t, 0),
        corpus=1000,
    )


def test_features_measure_coverage_and_unknown_words() -> None:
    df = {"employees": 50, "full-time": 40}
    good = _features(
        "How many full-time employees?", "The Company had 166,000 full-time employees.", df
    )
    assert good.coverage == pytest.approx(1.0) and good.unknown == 0.0
    assert good.cosine == 0.6 and good.cosine_gap == pytest.approx(0.3) and good.named == 1.0
    odd = _features("a recipe for banana bread", "The Company had 166,000 employees.", df)
    assert odd.coverage == 0.0 and odd.unknown == pytest.approx(1.0)
    nothing = Judge().features("x", "", [], [], agree=False, named=False, doc_freq=len, corpus=1)
    assert nothing == Features()
    assert math.isclose(FITTED.probability(Features()), 1 / (1 + math.exp(-FITTED.bias)))
    assert FITTED.probability(good) > FITTED.probability(odd)


def _job(id: int, ticker: str, cik: int | None, status: str, phase: str | None) -> jq.Job:
    return jq.Job(
        id, ticker, cik, status, None, phase, 10, 40, 1, 30, 1, None, None,
        "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z" if status == "running" else None,
        "2026-01-01T00:00:00.000Z", None,
    )  # fmt: skip


def test_building_means_filings_the_question_could_use_are_on_their_way() -> None:
    pending = Pending({320193: 30, 789019: 0}, {320193: 2})
    running = _job(1, jq.ALL, None, "running", "indexing")
    state = IndexState(100, pending, [running], will_index=False)
    building = state.building([320193], ["AAPL"], "AAPL (Apple Inc.)")
    assert building is not None and building.pending_sections == 30
    err = building.error()
    assert err.status == 503 and err.code == "index_building"
    assert 2 <= int(err.headers["Retry-After"]) <= 60 and "AAPL (Apple Inc.)" in err.message
    assert err.details["progress"] == {"done": 10, "total": 40}
    # Nothing of Microsoft's is waiting; a question about it is not held up.
    assert state.building([789019], ["MSFT"], "MSFT") is None
    # Pending sections nobody will index (no job, no automatic indexing) are not "building".
    idle = IndexState(100, pending, [], will_index=False)
    assert idle.building([320193], ["AAPL"], "AAPL") is None
    assert IndexState(100, pending, [], will_index=True).building([320193], [], "AAPL")
    # A job fetching MSFT's filings holds MSFT questions back before anything is imported.
    fetching = _job(2, "MSFT", 789019, "running", "fetching")
    state = IndexState(100, Pending({}, {}), [fetching], will_index=True)
    building = state.building([789019], ["MSFT"], "MSFT")
    assert building is not None and building.phase == "importing"
    assert "imported" in building.error().message
    line = IndexState(100, pending, [running], will_index=True).summary()
    assert line.startswith("100 chunks indexed, 30 sections of 2 filings pending")
    assert "job 1 running (10/40)" in line


def test_keyword_only_search_is_judged_on_its_words() -> None:
    """Without the embedding model no similarity is known: an on-topic passage still passes
    the threshold and nonsense does not."""
    judge = Judge()
    df = {"employees": 50, "equivalent": 40}

    def features(question: str) -> Features:
        return judge.features(
            question,
            "",
            ["The Company had 166,000 full-time equivalent employees."],
            [math.nan],
            agree=False,
            named=False,
            doc_freq=lambda t: df.get(t, 0),
            corpus=1000,
        )

    assert judge.confidence(features("equivalent employees")) >= judge.threshold
    assert judge.confidence(features("blorp fizzwhack")) < judge.threshold


@pytest.mark.parametrize(
    ("on_start", "new_imports", "indexer", "alive", "expected"),
    [
        (True, True, True, True, True),
        # Pending at start and never queued: not "building", or 503 would last for ever.
        (False, True, True, True, False),
        (True, False, True, True, False),
        (True, True, False, True, False),
        (True, True, True, False, False),
    ],
)
def test_pending_sections_count_as_building_only_when_they_will_be_indexed_unasked(
    on_start: bool, new_imports: bool, indexer: bool, alive: bool, expected: bool
) -> None:
    settings = load_settings(
        index_on_start=on_start, index_new_imports=new_imports, edgar_sample_on_first_start=False
    )
    assert indexes_unasked(settings, indexer, alive) is expected
