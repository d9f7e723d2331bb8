"""Scoring retrieval on a question set: hit@k, section accuracy, point-in-time violations.

A question lists the acceptable (accession, sections) pairs and an evidence phrase. A hit is
a citation among the top k from an acceptable filing whose text contains the phrase (or one
of the phrases)
(whitespace and case folded). A question expecting nothing (a cutoff before every filing)
is a hit when no citation comes back. Section accuracy: the first citation is from an
acceptable filing and section. Every citation is checked against the cutoff.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data"
DEV_SET = DATA / "qa_dev.jsonl"
# Written blind (from each filing's table of contents and a company summary, never the
# chunks), evidence filled in afterwards; split by company: tune (Apple, NVIDIA) / test.
BLIND_SET = DATA / "blind" / "qa_blind.jsonl"


def load_questions(path: Path = DEV_SET) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def load_blind(path: Path = BLIND_SET) -> list[dict[str, Any]]:
    """The blind questions that have evidence phrases, in the shape :func:`score` reads.

    A hit needs an evidence phrase inside one of the ``evidence_at`` filings and sections
    (where the phrases were found: the predicted sections plus any other that states them).
    Questions without evidence (the filing does not state the answer) are left out.
    """
    return [
        {**q, "query": q["question"], "expect": q["evidence_at"]}
        for q in load_questions(path)
        if q.get("evidence")
    ]


def normalize(text: str) -> str:
    """How evidence phrases and passages are compared: whitespace and case folded."""
    return re.sub(r"\s+", " ", text).strip().lower()


def evidence_phrases(question: dict[str, Any]) -> list[str]:
    """A question's evidence phrases as written (one string or a list; any one answers)."""
    ev = question["evidence"]
    return [ev] if isinstance(ev, str) else list(ev)


@dataclass
class Outcome:
    id: str
    hit: bool
    section_ok: bool
    violations: int
    seconds: float
    first: str = ""


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def hit_rate(self) -> float:
        return sum(o.hit for o in self.outcomes) / max(1, len(self.outcomes))

    @property
    def section_accuracy(self) -> float:
        return sum(o.section_ok for o in self.outcomes) / max(1, len(self.outcomes))

    @property
    def violations(self) -> int:
        return sum(o.violations for o in self.outcomes)

    def latency_ms(self, pct: float) -> float:
        xs = sorted(o.seconds * 1000 for o in self.outcomes)
        if not xs:
            return 0.0
        return xs[min(len(xs) - 1, round(pct / 100 * (len(xs) - 1)))]

    def summary(self) -> str:
        return (
            f"questions={len(self.outcomes)} hit@5={self.hit_rate:.3f}"
            f" section_acc={self.section_accuracy:.3f} pit_violations={self.violations}"
            f" p50={self.latency_ms(50):.1f}ms p95={self.latency_ms(95):.1f}ms"
        )


def score(
    questions: list[dict[str, Any]],
    ask: Callable[[dict[str, Any]], list[dict[str, Any]]],
    k: int = 5,
) -> Report:
    """``ask(question)`` returns citations (dicts with accession, section, text, filing_date)."""
    report = Report()
    for q in questions:
        started = time.perf_counter()
        cites = ask(q)[:k]
        seconds = time.perf_counter() - started
        cutoff = q.get("cutoff")
        violations = sum(1 for c in cites if cutoff and c["filing_date"] > cutoff)
        expect = q["expect"]
        if not expect:
            hit = section_ok = not cites
        else:
            ok = {e["accession"]: set(e["sections"]) for e in expect}
            phrases = [normalize(p) for p in evidence_phrases(q)]
            hit = any(
                c["accession"] in ok and any(p in normalize(c["text"]) for p in phrases)
                for c in cites
            )
            section_ok = bool(cites) and cites[0]["section"] in ok.get(cites[0]["accession"], ())
        first = f"{cites[0]['accession']}/{cites[0]['section']}" if cites else "-"
        report.outcomes.append(Outcome(q["id"], hit, section_ok, violations, seconds, first))
    return report


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else 0.0
