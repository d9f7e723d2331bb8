"""Does the filings Q&A say when it does not know? ``make bench`` prints, in one run:

- company resolution precision and recall (by CIK) on ``tests/data/blind/resolution.jsonl``;
- abstention: refused share of ``abstention.jsonl`` (nonsense, off-topic, unsupported), and the
  share of answerable questions wrongly refused (``qa_dev.jsonl``, ``answerable_short.jsonl``,
  ``qa_blind.jsonl``);
- hit@5 on the development set with abstention off (answer whenever anything is cited) and on
  (a refused question counts as a miss);
- the confidence's reliability: per bin, mean confidence against the observed share of top
  citations that answer.

Every figure is given for the development split (tuned on) and the test split (held out:
never looked at while tuning; the headline). The sets were written blind (see
``tests/data/blind/README.md``); ``qa_dev.jsonl`` is the retrieval development set.

``--fit`` refits the confidence model (``appliance/rag/confidence.py`` ``FITTED``) on the
development split only, and prints the weights and the highest refusal threshold that keeps
wrongly refused answerable development questions at or under 2% and loses no hit@5.

Runs over the corpus ``bench_retrieval.py`` builds and caches (all the shared filings).

The Q&A runs as a site runs it by default: the reader reranks 8 candidates, from passage
vectors read ahead (``--no-rerank``: the fused order, ``rerank_candidates = 0``).

Run: ``python tests/bench/bench_qa_honesty.py [--fit] [--verbose] [--no-rerank]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_facts  # noqa: E402
import bench_retrieval  # noqa: E402
import numpy as np  # noqa: E402
import qa_eval  # noqa: E402

from appliance.db.connection import Connection, connect  # noqa: E402
from appliance.rag.companies import CompanyBook, CompanyDirectory, Lexicon  # noqa: E402
from appliance.rag.confidence import FITTED, Features, Judge, Model  # noqa: E402
from appliance.rag.progress import StateBook  # noqa: E402
from appliance.rag.qa import ANSWERED, Reply, answer_question  # noqa: E402
from appliance.rag.retrieve import Retriever, SearchRequest  # noqa: E402
from appliance.rag.service import load_reranker, rerank_tuning  # noqa: E402
from appliance.settings import load_settings  # noqa: E402

DATA = ROOT / "tests" / "data"
BLIND = DATA / "blind"
DEV_SPLITS = {"dev", "tune"}


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def split_of(row: dict[str, Any]) -> str:
    return "dev" if row.get("split", "dev") in DEV_SPLITS else "test"


# ----- resolution -----


def resolution(directory: CompanyDirectory, rows: list[dict[str, Any]], verbose: bool) -> None:
    print("company resolution (by CIK), tests/data/blind/resolution.jsonl:")
    for split in ("dev", "test"):
        tp = fp = fn = traps = trap_ok = 0
        started = time.perf_counter()
        subset = [r for r in rows if split_of(r) == split]
        for r in subset:
            want = {e["cik"] for e in r["expected"]}
            got = {m.company.cik for m in directory.resolve(r["question"])}
            tp, fp, fn = tp + len(want & got), fp + len(got - want), fn + len(want - got)
            if r.get("trap"):
                traps += 1
                trap_ok += got == want
            if verbose and got != want and split == "dev":
                print(f"    MISS {r['id']}: want {sorted(want)} got {sorted(got)}: {r['question']}")
        ms = (time.perf_counter() - started) * 1000 / max(len(subset), 1)
        precision = tp / max(tp + fp, 1)
        recall = tp / max(tp + fn, 1)
        print(
            f"  {split:4s} questions={len(subset)} precision={precision:.3f} recall={recall:.3f}"
            f" (tp={tp} fp={fp} fn={fn}) traps right={trap_ok}/{traps} {ms:.2f} ms/question"
        )


# ----- the Q&A end to end -----


@dataclass
class Asked:
    row: dict[str, Any]
    kind: str  # "answerable" | "refuse"
    split: str
    on: Reply
    off: Reply
    top_answers: bool  # the top citation (abstention off) answers the question
    hit5: bool  # a top-5 citation (abstention off) answers it

    @property
    def expects_nothing(self) -> bool:
        """A development question whose right answer is no citation (a cutoff before every
        filing): not "answerable", and a hit when nothing is cited."""
        return self.row.get("expect") == []

    @property
    def hit5_on(self) -> bool:
        if self.expects_nothing:
            return not self.on.body["citations"]
        return self.hit5 and self.on.status == ANSWERED


def request(row: dict[str, Any]) -> SearchRequest:
    return SearchRequest(
        query=row.get("query") or row["question"],
        ticker=row.get("ticker"),
        cutoff=row.get("cutoff"),
        forms=tuple(row["forms"]) if row.get("forms") else None,
        sections=tuple(row["sections"]) if row.get("sections") else None,
    )


def judged(row: dict[str, Any], cites: list[dict[str, Any]]) -> tuple[bool, bool]:
    """(top citation answers, a top-5 citation answers)."""
    if "expect" in row:  # qa_dev.jsonl: an expected filing holding the evidence phrase
        report = qa_eval.score([row], lambda _q: cites)
        top = qa_eval.score([row], lambda _q: cites[:1])
        return top.outcomes[0].hit, report.outcomes[0].hit
    accessions = set(row["expected_accessions"])
    sections = set(row["expected_sections"])

    def ok(c: dict[str, Any]) -> bool:
        return c["accession"] in accessions and c["section"] in sections

    return bool(cites) and ok(cites[0]), any(ok(c) for c in cites[:5])


def ask_all(
    conn: Connection,
    retriever: Retriever,
    book: CompanyBook,
    judge: Judge,
    sets: Iterable[tuple[str, str, list[dict[str, Any]]]],
) -> list[Asked]:
    state = StateBook("bench", lambda: len(retriever.index), lambda: False)
    out = []
    for kind, _name, rows in sets:
        for row in rows:
            req = request(row)
            on = answer_question(conn, retriever, book, state, judge, req)
            off = answer_question(conn, retriever, book, state, judge, req, abstain=False)
            cites = off.body["citations"]
            top, hit5 = judged(row, cites) if kind == "answerable" else (False, False)
            out.append(Asked(row, kind, split_of(row), on, off, top, hit5))
    return out


def abstention(asked: list[Asked], verbose: bool) -> None:
    print("abstention (refused = any status but answered; free):")
    for split in ("dev", "test"):
        refuse = [a for a in asked if a.kind == "refuse" and a.split == split]
        answerable = [
            a
            for a in asked
            if a.kind == "answerable" and a.split == split and not a.expects_nothing
        ]
        refused = sum(a.on.status != ANSWERED for a in refuse)
        wrong = [a for a in answerable if a.on.status != ANSWERED]
        by_category: dict[str, list[int]] = {}
        for a in refuse:
            cat = by_category.setdefault(a.row["category"], [0, 0])
            cat[0] += a.on.status != ANSWERED
            cat[1] += 1
        cats = " ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(by_category.items()))
        print(
            f"  {split:4s} refused {refused}/{len(refuse)} = {refused / max(len(refuse), 1):.3f}"
            f" ({cats}); answerable wrongly refused {len(wrong)}/{len(answerable)}"
            f" = {len(wrong) / max(len(answerable), 1):.3f}"
        )
        if verbose and split == "dev":  # never print the held-out split's questions
            for a in refuse:
                if a.on.status == ANSWERED:
                    conf = a.on.body["confidence"]
                    print(f"    ANSWERED {a.row['id']} ({conf}): {a.row['question']}")
            for a in wrong:
                q = a.row.get("query") or a.row["question"]
                print(f"    REFUSED {a.row['id']} {a.on.reason} ({a.on.body['confidence']}): {q}")


def hit_at_5(asked: list[Asked]) -> None:
    dev = [a for a in asked if "expect" in a.row]
    off = sum(a.hit5 for a in dev) / max(len(dev), 1)
    on = sum(a.hit5_on for a in dev) / max(len(dev), 1)
    lost = [a.row["id"] for a in dev if a.hit5 and not a.hit5_on]
    print(
        f"dev hit@5 (tests/data/qa_dev.jsonl, {len(dev)} questions): abstention off {off:.3f},"
        f" on {on:.3f} (hits refused: {len(lost)}{' ' + str(lost) if lost else ''})"
    )


def reliability(asked: list[Asked], model: Model) -> None:
    print("confidence reliability (label: the top citation answers; refusal-set questions: no):")
    for split in ("dev", "test"):
        pairs = [
            (model.probability(a.off.features), a.top_answers)
            for a in asked
            if a.split == split and a.off.features is not None and a.off.body["citations"]
        ]
        if not pairs:
            continue
        p = np.array([x for x, _ in pairs])
        y = np.array([float(v) for _, v in pairs])
        bins = [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.01)]
        cells = []
        ece = 0.0
        for lo, hi in bins:
            m = (p >= lo) & (p < hi)
            if m.any():
                ece += m.sum() / len(p) * abs(p[m].mean() - y[m].mean())
                mean, seen = p[m].mean(), y[m].mean()
                cells.append(f"[{lo:.1f},{min(hi, 1):.1f}) n={m.sum()} p={mean:.2f} obs={seen:.2f}")
        brier = float(((p - y) ** 2).mean())
        print(f"  {split:4s} n={len(p)} ECE={ece:.3f} Brier={brier:.3f}")
        for c in cells:
            print(f"      {c}")


# ----- fitting (development split only) -----


def newton(x: Any, y: Any, l2: float = 1.0, rounds: int = 100) -> tuple[Any, float]:
    """Logistic regression (L2 on the weights, not the bias) by Newton's method."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    beta = np.zeros(xb.shape[1])
    ridge = l2 * np.eye(xb.shape[1])
    ridge[-1, -1] = 0.0
    for _ in range(rounds):
        p = 1 / (1 + np.exp(-(xb @ beta)))
        hessian = xb.T @ (xb * (p * (1 - p))[:, None]) + ridge
        beta -= np.linalg.solve(hessian, xb.T @ (p - y) + ridge @ beta)
    return beta[:-1], float(beta[-1])


def fit(asked: list[Asked]) -> None:
    """Fit on the development split: questions that reached the model (rules and
    not_indexed answer before it), labelled by whether the top citation answers."""
    rows = [
        a
        for a in asked
        if a.split == "dev"
        and a.off.features is not None
        and a.off.body["citations"]
        and a.on.reason in ("", "low_confidence")
    ]
    names = [k for k in Features().vector() if k != "rerank"]
    x = np.array([[a.off.features.vector()[k] for k in names] for a in rows])  # type: ignore[union-attr]
    y = np.array([float(a.top_answers) for a in rows])
    w, b = newton(x, y)
    model = Model(dict(zip(names, (round(float(v), 3) for v in w), strict=True)), round(b, 3))
    print(f"fitted on {len(rows)} development questions with citations ({int(y.sum())} positive):")
    print(f"  Model(weights={model.weights}, bias={model.bias})")
    refuse = [a for a in asked if a.split == "dev" and a.kind == "refuse"]
    for t in np.arange(0.05, 0.55, 0.05):
        refused = sum(
            a.on.reason not in ("", "low_confidence")
            or a.off.features is None
            or model.probability(a.off.features) < t
            for a in refuse
        )
        print(f"    threshold {t:.2f}: refusal set refused {refused}/{len(refuse)}")
    answerable = [
        a for a in asked if a.split == "dev" and a.kind == "answerable" and not a.expects_nothing
    ]
    best = 0.0
    for t in np.arange(0.0, 0.9, 0.01):
        wrong = 0
        lost = 0
        for a in answerable:
            refused = (
                a.off.features is None
                or not a.off.body["citations"]
                or (model.probability(a.off.features) < t)
            )
            refused = refused or a.on.reason not in ("", "low_confidence")
            wrong += refused
            lost += refused and a.hit5 and "expect" in a.row
        if wrong <= 0.02 * len(answerable) and lost == 0:
            best = float(t)
    print(f"  highest threshold keeping wrongly refused <= 2% and every dev hit: {best:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--no-rerank",
        action="store_true",
        help="without the reranking stage (as `rerank_candidates = 0` configures it)",
    )
    parser.add_argument(
        "--passage-encoder",
        choices=("embedder", "distilled"),
        default="embedder",
        help="what embedded the passages (the setting of that name)",
    )
    args = parser.parse_args()
    from appliance.nlp.embedder import Embedder
    from appliance.nlp.paths import ModelPaths

    embedder = Embedder(ModelPaths.locate().embedder, threads=2)
    # The retriever a site runs by default (the reader reranking 8 candidates), or with
    # `rerank_candidates = 0`.
    site = load_settings(access_log=False, **({"rerank_candidates": 0} if args.no_rerank else {}))
    reranker = load_reranker(site)
    paths = ModelPaths.locate()
    cache = bench_retrieval.cached_corpus(
        paths.passage_encoder if args.passage_encoder == "distilled" else paths.embedder
    )
    if reranker is not None:
        bench_retrieval.read_ahead(cache, reranker)  # as the server's worker leaves the index
    work = Path(tempfile.mkdtemp(prefix="bench-qa-"))
    # The cached corpus, migrated and with its inline-XBRL facts, as an appliance holds it.
    data_dir = bench_facts._copy(cache, work / "data", True)
    conn = connect(data_dir / "appliance.sqlite3", readonly=True)
    retriever = Retriever(embedder, rerank_tuning(site), reranker)
    retriever.load(conn)
    book = CompanyBook(Lexicon.load())
    from appliance.settings import Settings

    judge = Judge(FITTED, Settings.model_fields["qa_min_confidence"].default)
    resolution(book.get(conn), load(BLIND / "resolution.jsonl"), args.verbose)
    started = time.perf_counter()
    answerable = [
        ("answerable", "qa_dev", [{**q, "split": "dev"} for q in qa_eval.load_questions()]),
        ("answerable", "answerable_short", load(BLIND / "answerable_short.jsonl")),
        ("answerable", "qa_blind", load(BLIND / "qa_blind.jsonl")),
    ]
    asked = ask_all(
        conn,
        retriever,
        book,
        judge,
        [*answerable, ("refuse", "abstention", load(BLIND / "abstention.jsonl"))],
    )
    print(
        f"({len(asked)} questions asked twice, abstention on and off, in"
        f" {time.perf_counter() - started:.0f} s; threshold {judge.threshold})"
    )
    abstention(asked, args.verbose)
    hit_at_5(asked)
    reliability(asked, judge.model)
    if args.fit:
        fit(asked)
    conn.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
