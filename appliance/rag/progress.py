"""What the index is doing, told honestly: chunks searchable now, sections still waiting, and
whether the filings a question could use are still being imported or indexed.

A question asked while its company's filings are on their way gets ``503 index_building``
with ``Retry-After`` and the progress, never "no filing answers this" (and never a charge):
on a first start the bundled sample is indexed in the background for a minute or so, and a
user asking the moment ``/readyz`` turns 200 deserves "retry in 20 s", not a wrong "no".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from appliance.db.connection import Connection
from appliance.db.queries import jobs as jq
from appliance.db.queries import progress as pq
from appliance.db.queries.progress import Pending
from appliance.errors import ApplianceError

__all__ = ["Building", "IndexBuilding", "IndexState", "StateBook"]

# Seconds per section when no running job has measured its own pace yet (about 30 chunks/s
# and a few chunks per section on 2 cores, with margin).
_DEFAULT_PACE = 0.5
_MIN_RETRY, _MAX_RETRY = 2, 60


class IndexBuilding(ApplianceError):
    status = 503
    code = "index_building"


@dataclass(frozen=True)
class Building:
    """Filings a question could use are still being imported or indexed."""

    who: str  # "AAPL (Apple Inc.)", or "the filings" for a question naming no company
    pending_sections: int
    phase: str  # "importing" | "indexing" | "queued"
    done: int  # sections indexed so far by the live job(s)
    total: int
    retry_after: int

    def error(self) -> IndexBuilding:
        if self.phase == "importing":
            what = f"{self.who}: filings are being imported"
        else:
            what = f"{self.who}: {self.pending_sections} sections are waiting to be indexed"
        progress = f" ({self.done} of {self.total} sections of the running job done)"
        message = (
            f"the index is still being built for {what}"
            f"{progress if self.total else ''}; retry in {self.retry_after} s"
        )
        return IndexBuilding(
            message,
            details={
                "pending_sections": self.pending_sections,
                "phase": self.phase,
                "progress": {"done": self.done, "total": self.total},
            },
            headers={"Retry-After": str(self.retry_after)},
        )


@dataclass(frozen=True)
class IndexState:
    chunks: int  # searchable now
    pending: Pending
    jobs: list[jq.Job]  # live (queued or running)
    will_index: bool  # pending sections will be indexed without anyone asking

    def summary(self) -> str:
        """One line for ``/readyz``: what is searchable and what is on its way."""
        waiting = self.pending.total()
        text = f"{self.chunks} chunks indexed"
        if waiting:
            filings = sum(self.pending.filings.values())
            text += f", {waiting} sections of {filings} filings pending"
        running = [j for j in self.jobs if j.status == "running"]
        if running:
            j = running[0]
            text += f", indexing job {j.id} running ({j.progress_done}/{j.progress_total})"
        elif self.jobs:
            text += f", {len(self.jobs)} indexing job(s) queued"
        return text

    def building(
        self, ciks: Iterable[int] | None, tickers: Iterable[str], who: str
    ) -> Building | None:
        """Whether filings a question scoped to ``ciks`` (None: any company) could use are still
        on their way: a live job importing or fetching one of its ``tickers`` or CIKs, or
        sections of its companies waiting for an indexing that will happen."""
        scope = None if ciks is None else set(ciks)
        names = {t.upper() for t in tickers}
        acquiring = [
            j
            for j in self.jobs
            if j.ticker != jq.ALL
            and (j.ticker in names or (scope is not None and j.cik in scope) or scope is None)
            and (j.status == "queued" or j.phase in ("fetching", "importing", "resuming"))
        ]
        waiting = self.pending.total(None if scope is None else sorted(scope))
        covered = self.will_index or any(
            j.ticker == jq.ALL or scope is None or j.cik in scope for j in self.jobs
        )
        if not acquiring and not (waiting and covered):
            return None
        running = [j for j in self.jobs if j.status == "running"]
        done = sum(j.progress_done for j in running)
        total = sum(j.progress_total for j in running)
        phase = "importing" if acquiring and not waiting else "indexing" if running else "queued"
        return Building(who, waiting, phase, done, total, _retry_after(running, waiting))


def _retry_after(running: list[jq.Job], waiting: int) -> int:
    pace = _DEFAULT_PACE
    for j in running:
        if j.progress_done and j.started_at:
            elapsed = (datetime.now(UTC) - _parse(j.started_at)).total_seconds()
            pace = max(elapsed / j.progress_done, 0.01)
            break
    guess = pace * max(waiting, 1)
    return int(min(max(guess, _MIN_RETRY), _MAX_RETRY))


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


class StateBook:
    """The index state for questions and ``/readyz``. The pending sections (one grouped query)
    are recomputed when the worker reports a change or the imported filings change; the live
    jobs are read fresh each time (one indexed query)."""

    def __init__(
        self, policy: str | None, chunks: Callable[[], int], will_index: Callable[[], bool]
    ):
        self.policy = policy
        self.chunks = chunks
        self.will_index = will_index
        self._lock = threading.Lock()
        self._pending: Pending | None = None
        self._filings = -1

    def invalidate(self) -> None:
        self._pending = None

    def get(self, conn: Connection) -> IndexState:
        filings = pq.filing_count(conn)
        pending = self._pending
        if pending is None or filings != self._filings:
            with self._lock:
                pending = pq.pending(conn, self.policy)
                self._pending, self._filings = pending, filings
        return IndexState(self.chunks(), pending, jq.live_jobs(conn), self.will_index())
