"""The retrieval service the app runs: retriever + index worker, started by the lifespan.

``ctx.services["rag"]`` holds a :class:`RagService` once started. Handlers reach it through
:func:`rag_service`, which answers 503 ``not_ready`` until the vector index is loaded. Indexing
work goes in through one door, :meth:`RagService.enqueue`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from appliance.db.connection import Connection
from appliance.db.database import Database
from appliance.db.queries import jobs as jq
from appliance.db.queries import rag as rq
from appliance.errors import NotReady, UnknownTicker
from appliance.rag.companies import CompanyBook, Lexicon
from appliance.rag.confidence import Judge
from appliance.rag.embedding import TextEmbedder
from appliance.rag.feed import ChunkFeed
from appliance.rag.index import DEFAULT_POLICY, Indexer
from appliance.rag.progress import StateBook
from appliance.rag.qa import Reply, answer_question
from appliance.rag.retrieve import Retriever, SearchRequest
from appliance.rag.sources import acquire_for, inbox_dir
from appliance.rag.worker import Acquire, IndexWorker
from appliance.settings import Settings

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["RagService", "load_embedder", "rag_service", "retrieval_hook", "start_rag"]

log = logging.getLogger("appliance.rag")
COMPONENT = "retrieval"


@dataclass
class RagService:
    embedder: TextEmbedder | None  # None: keyword-only search, indexing paused
    retriever: Retriever
    indexer: Indexer | None
    worker: IndexWorker
    db: Database
    settings: Settings
    companies: CompanyBook
    progress: StateBook
    judge: Judge

    @property
    def ready(self) -> bool:
        return self.worker.ready.is_set()

    def ask(self, conn: Connection, req: SearchRequest) -> Reply:
        """Answer one question (a read function: run it on a reader thread)."""
        return answer_question(conn, self.retriever, self.companies, self.progress, self.judge, req)

    def status(self, conn: Connection) -> str:
        """The live retrieval line of ``/readyz``."""
        self.progress.invalidate()
        line = self.progress.get(conn).summary()
        if self.indexer is None:
            line += " (models not loaded: keyword search only, indexing paused)"
        return line

    async def enqueue(self, ticker: str, requested_by: int | None) -> tuple[jq.Job, bool]:
        """Queue "get this ticker's filings and index them" (or find the live job for it) and
        wake the worker; returns ``(job, created)``.

        Raises UnknownTicker when the ticker is neither in the symbol map nor has an inbox.
        """
        ticker = ticker.upper()
        cik = await self.db.read(rq.resolve_ticker, ticker)
        if cik is None and not inbox_dir(self.settings, ticker).is_dir():
            raise UnknownTicker(f"unknown ticker {ticker!r}: not in the symbol map")
        job, created = await self.db.write(jq.enqueue, ticker, cik, requested_by)
        self.worker.wake()
        return job, created


def rag_service(ctx: AppContext) -> RagService:
    service: RagService | None = ctx.services.get("rag")
    if service is None:
        raise NotReady("filings search is not available")
    if not service.ready:
        raise NotReady("filings search is starting: the vector index is loading")
    return service


def load_embedder(ctx: AppContext) -> TextEmbedder | None:
    """The app's embedder: the one the models service registered, else loaded here."""
    shared: TextEmbedder | None = ctx.services.get("embedder")
    if shared is not None or not ctx.settings.load_models:
        return shared
    from appliance.nlp.embedder import Embedder
    from appliance.nlp.paths import ModelMissing, ModelPaths

    try:
        return Embedder(ModelPaths.locate(ctx.settings.models_dir).embedder, threads=2)
    except ModelMissing as exc:
        # The models hook has already marked its component failed (so /readyz says why);
        # search stays up, keyword-only, rather than the whole app refusing to start.
        log.error("embedder not available, filings search is keyword-only: %s", exc.message)
        return None


def retrieval_hook(ctx: AppContext) -> Callable[[], Any] | None:
    """Lifespan hook: start retrieval and the index worker when an embedder is available."""
    embedder = load_embedder(ctx)
    if embedder is None:
        log.info("models not loaded: filings search is keyword-only and indexing is paused")
    return start_rag(
        ctx,
        embedder,
        acquire_for(ctx.settings, ctx.db),
        index_pending=ctx.settings.index_on_start,
    )


def start_rag(
    ctx: AppContext,
    embedder: TextEmbedder | None,
    acquire: Acquire,
    *,
    index_pending: bool = True,
) -> Callable[[], Any]:
    """Create the service, start the indexer thread; returns the stop function.

    Without an embedder the service still answers (keyword search over what is indexed)
    and accepts jobs, which wait in the queue for a start with the models loaded.
    """
    ctx.components.starting(COMPONENT, "loading the vector index")
    retriever = Retriever(embedder)
    indexer = Indexer(embedder) if embedder is not None else None
    settings = ctx.settings

    def report() -> None:
        # /readyz shows the index as it is now, not as it was at start-up.
        ctx.components.ready(COMPONENT, ctx.db.sync.read(service.status))

    def failed(reason: str) -> None:
        ctx.components.failed(COMPONENT, reason)

    def will_index() -> bool:
        return indexer is not None and settings.index_new_imports and worker.alive

    worker = IndexWorker(
        ctx.db,
        retriever,
        indexer,
        acquire,
        on_ready=lambda _chunks: report(),
        on_failure=failed,
        index_pending_on_start=index_pending,
        lease_seconds=settings.job_lease_seconds,
        index_new_imports=settings.index_new_imports,
        paused=settings.index_paused,
        on_change=report,
    )
    policy = (indexer.policy if indexer else DEFAULT_POLICY).version
    service = RagService(
        embedder,
        retriever,
        indexer,
        worker,
        ctx.db,
        settings,
        companies=CompanyBook(Lexicon.load()),
        progress=StateBook(policy, lambda: len(retriever.index), will_index),
        judge=Judge(threshold=settings.qa_min_confidence),
    )
    ctx.services["rag"] = service
    # Loaded before the app serves (about a second per 100k chunks), so /readyz is 200 and
    # every answer searches the whole index from the first request.
    worker.load()
    worker.start()
    feed = _chunk_feed(ctx, service)

    def stop() -> None:
        if feed is not None:
            feed.stop()
        worker.stop()

    return stop


def _chunk_feed(ctx: AppContext, service: RagService) -> ChunkFeed | None:
    """Replicas on PostgreSQL: apply what the others index to this one's vector index, and
    forget the pending sections counted before (questions about a company another replica
    has just indexed are answered, not told 503 index_building)."""
    url = ctx.settings.database_url
    if not url:
        return None
    db, retriever = ctx.db, service.retriever

    def apply(removed: list[int], new: list[int]) -> None:
        db.sync.read(retriever.apply, removed, new)
        service.progress.invalidate()
        service.worker.changed()

    def resync() -> None:
        db.sync.read(retriever.sync)
        service.progress.invalidate()
        service.worker.changed()

    feed = ChunkFeed(url, apply, resync)
    feed.start()
    return feed
