"""The retrieval service the app runs: retriever + index worker, started by the lifespan.

``ctx.rag`` holds the :class:`RagService` once started. Handlers reach it through
:func:`rag_service`, which answers 503 ``not_ready`` until the vector index is loaded. Indexing
work goes in through one door, :meth:`RagService.enqueue`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from appliance.components import Components
from appliance.db.connection import Connection
from appliance.db.database import Database
from appliance.db.queries import jobs as jq
from appliance.db.queries import rag as rq
from appliance.errors import NotReady, UnknownTicker
from appliance.rag.companies import CompanyBook, Lexicon
from appliance.rag.confidence import Judge
from appliance.rag.embedding import PassageScorer, TextEmbedder
from appliance.rag.feed import ChunkFeed
from appliance.rag.index import Indexer
from appliance.rag.progress import StateBook
from appliance.rag.qa import Reply, answer_question
from appliance.rag.retrieve import (
    CROSS_ENCODER_PRIOR,
    READER_PRIOR,
    Retriever,
    SearchRequest,
    Tuning,
)
from appliance.rag.sources import acquire_for, inbox_dir
from appliance.rag.worker import Acquire, IndexWorker
from appliance.settings import Settings

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = ["RagService", "load_reranker", "rag_service", "start_rag"]

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
    feed: ChunkFeed | None = None  # replicas on PostgreSQL: what the others index

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
        passages = self.retriever.passages
        reading = passages.read if passages and self.indexer and not passages.caught_up else None
        elsewhere = reading is not None and passages is not None and passages.elsewhere
        return line + rerank_line(self.settings, self.retriever.reranker, reading, elsewhere)

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

    def stop(self) -> None:
        if self.feed is not None:
            self.feed.stop()
        self.worker.stop()


def rag_service(ctx: AppContext) -> RagService:
    service = ctx.rag
    if service is None:
        raise NotReady("filings search is not available")
    if not service.ready:
        raise NotReady("filings search is starting: the vector index is loading")
    return service


def load_reranker(settings: Settings) -> PassageScorer | None:
    """The passage reranker ``settings.rerank_model`` names, or None (models off, reranking
    off, or the artifact missing: search then keeps the fused order rather than refusing to
    start)."""
    if not settings.load_models or settings.rerank_candidates <= 0:
        return None
    from appliance.nlp.paths import ModelMissing, ModelPaths

    paths = ModelPaths.locate(settings.models_dir)
    try:
        if settings.rerank_model == "reader":
            from appliance.nlp.reader import PassageReader

            return PassageReader(
                settings.reader_dir or paths.reader, threads=settings.model_threads
            )
        from appliance.nlp.reranker import Reranker

        return Reranker(paths.reranker, threads=settings.model_threads)
    except ModelMissing as exc:
        log.warning("reranker not available, search keeps the fused order: %s", exc.message)
        return None


def rerank_line(
    settings: Settings,
    scorer: PassageScorer | None,
    reading: int | None = None,
    elsewhere: bool = False,
) -> str:
    """What ``/readyz`` adds about the reranking stage: nothing when it is off, a plain word
    when it was asked for but its model did not load (search keeps the fused order), and
    while the worker reads passages ahead (``reading``: how many so far), that it does
    (answers are slower until it is done), or that another replica does (``elsewhere``)."""
    if settings.rerank_candidates <= 0:
        return ""
    if scorer is None:
        return f"; reranking off: the {settings.rerank_model} model is not loaded (see the log)"
    line = f"; reranking the top {settings.rerank_candidates} with {scorer.name}"
    if elsewhere:
        line += " (another replica is reading passages ahead)"
    elif reading is not None:
        line += f" (reading passages ahead: {reading} read)"
    return line


def rerank_tuning(settings: Settings) -> Tuning:
    """The search knobs for the configured reranking stage (the fused-score prior that suited
    each model on the blind tune split)."""
    prior = READER_PRIOR if settings.rerank_model == "reader" else CROSS_ENCODER_PRIOR
    return Tuning(rerank_candidates=settings.rerank_candidates, rerank_prior=prior)


def start_rag(
    db: Database,
    settings: Settings,
    components: Components,
    embedder: TextEmbedder | None,
    acquire: Acquire | None = None,
    *,
    reranker: PassageScorer | None = None,
    passage_encoder: TextEmbedder | None = None,
) -> RagService:
    """Create the service and start its indexer thread (``acquire``: how a job gets filings,
    by default EDGAR or the inbox as the settings say; ``reranker``: the optional
    reranking stage, used when ``rerank_candidates`` > 0; ``passage_encoder``: what the indexer
    embeds chunks with, by default ``embedder``, which embeds the questions).

    Without an embedder the service still answers (keyword search over what is indexed)
    and accepts jobs, which wait in the queue for a start with the models loaded.
    """
    if embedder is None:
        log.info("models not loaded: filings search is keyword-only and indexing is paused")
    components.starting(COMPONENT, "loading the vector index")
    retriever = Retriever(embedder, rerank_tuning(settings), reranker)
    indexer = Indexer(passage_encoder or embedder) if embedder is not None else None

    def report() -> None:
        # /readyz shows the index as it is now, not as it was at start-up.
        components.ready(COMPONENT, db.sync.read(service.status))

    def failed(reason: str) -> None:
        components.failed(COMPONENT, reason)

    def will_index() -> bool:
        return indexes_unasked(settings, indexer is not None, worker.alive)

    # The reader's passage vectors are read ahead while the worker is idle (rag.reading).
    passages = retriever.passages
    # Replicas on PostgreSQL take turns (the read_ahead lease); one SQLite process needs none.
    holder = db.replica_id or None
    background = partial(passages.fill, db.sync, holder) if passages and indexer else None
    worker = IndexWorker(
        db,
        retriever,
        indexer,
        acquire or acquire_for(settings, db),
        on_ready=lambda _chunks: report(),
        on_failure=failed,
        index_pending_on_start=settings.index_on_start,
        lease_seconds=settings.job_lease_seconds,
        index_new_imports=settings.index_new_imports,
        paused=settings.index_paused,
        on_change=report,
        background=background,
    )
    # Without an indexer nothing gets indexed, so "pending" means never indexed: which
    # encoder wrote a section is only known once the models are loaded.
    policy = indexer.version if indexer else None
    service = RagService(
        embedder,
        retriever,
        indexer,
        worker,
        db,
        settings,
        companies=CompanyBook(Lexicon.load()),
        progress=StateBook(policy, lambda: len(retriever.index), will_index),
        judge=Judge(threshold=settings.qa_min_confidence),
    )
    # Loaded before the app serves (about a second per 100k chunks), so /readyz is 200 and
    # every answer searches the whole index from the first request.
    worker.load()
    worker.start()
    service.feed = _chunk_feed(db, settings, service)
    return service


def indexes_unasked(settings: Settings, has_indexer: bool, worker_alive: bool) -> bool:
    """Sections waiting to be indexed will be indexed with nobody asking.

    The worker queues what is pending at start (``index_on_start``) and what other processes
    import later (``index_new_imports``, queued as jobs when seen). With ``index_on_start``
    off, sections already pending at start wait for ``appliance index`` or ``/ops/index``:
    calling them "building" would answer 503 ``index_building`` until someone did.
    """
    return has_indexer and worker_alive and settings.index_on_start and settings.index_new_imports


def _chunk_feed(db: Database, settings: Settings, service: RagService) -> ChunkFeed | None:
    """Replicas on PostgreSQL: apply what the others index to this one's vector index, and
    forget the pending sections counted before (questions about a company another replica
    has just indexed are answered, not told 503 index_building)."""
    url = settings.database_url
    if not url:
        return None
    retriever = service.retriever

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
