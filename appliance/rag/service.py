"""The retrieval service the app runs: retriever + background indexer, started by the lifespan.

``ctx.services["rag"]`` holds a :class:`RagService` once started. Handlers reach it through
:func:`rag_service`, which answers 503 ``not_ready`` until the vector index is loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from appliance.errors import NotReady
from appliance.indexer import Acquire, BackgroundIndexer
from appliance.rag.embedding import PassageScorer, TextEmbedder
from appliance.rag.index import Indexer
from appliance.rag.retrieve import Retriever, Tuning

if TYPE_CHECKING:
    from appliance.context import AppContext

__all__ = [
    "RagService",
    "load_embedder",
    "load_reranker",
    "rag_service",
    "retrieval_hook",
    "start_rag",
]

log = logging.getLogger("appliance.rag")
COMPONENT = "retrieval"


@dataclass
class RagService:
    embedder: TextEmbedder | None  # None: keyword-only search, indexing paused
    retriever: Retriever
    indexer: Indexer | None
    background: BackgroundIndexer

    @property
    def ready(self) -> bool:
        return self.background.ready.is_set()


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


def load_reranker(ctx: AppContext) -> PassageScorer | None:
    """The passage reranker, or None (models off, reranking off, or the artifact missing:
    search then keeps the fused order rather than refusing to start)."""
    settings = ctx.settings
    if not settings.load_models or settings.rerank_candidates <= 0:
        return None
    from appliance.nlp.paths import ModelMissing, ModelPaths
    from appliance.nlp.reranker import Reranker

    try:
        return Reranker(ModelPaths.locate(settings.models_dir).reranker, threads=2)
    except ModelMissing as exc:
        log.error("reranker not available, search keeps the fused order: %s", exc.message)
        return None


def retrieval_hook(ctx: AppContext) -> Callable[[], Any] | None:
    """Lifespan hook: start retrieval and the indexer when an embedder is available."""
    from appliance.rag.sources import acquire_for

    embedder = load_embedder(ctx)
    if embedder is None:
        log.info("models not loaded: filings search is keyword-only and indexing is paused")
    return start_rag(
        ctx,
        embedder,
        acquire_for(ctx.settings, ctx.db),
        index_pending=ctx.settings.index_on_start,
        reranker=load_reranker(ctx),
    )


def start_rag(
    ctx: AppContext,
    embedder: TextEmbedder | None,
    acquire: Acquire,
    *,
    index_pending: bool = True,
    reranker: PassageScorer | None = None,
) -> Callable[[], Any]:
    """Create the service, start the indexer thread; returns the stop function.

    Without an embedder the service still answers (keyword search over what is indexed)
    and accepts jobs, which wait in the queue for a start with the models loaded.
    """
    ctx.components.starting(COMPONENT, "loading the vector index")
    tuning = Tuning(rerank_candidates=ctx.settings.rerank_candidates)
    retriever = Retriever(embedder, tuning, reranker)
    indexer = Indexer(embedder) if embedder is not None else None

    def ready(chunks: int) -> None:
        mode = "" if indexer else " (models not loaded: keyword search only, indexing paused)"
        ctx.components.ready(COMPONENT, f"{chunks} chunks indexed{mode}")

    def failed(reason: str) -> None:
        ctx.components.failed(COMPONENT, reason)

    background = BackgroundIndexer(
        ctx.db,
        retriever,
        indexer,
        acquire,
        on_ready=ready,
        on_failure=failed,
        index_pending_on_start=index_pending,
    )
    ctx.services["rag"] = RagService(embedder, retriever, indexer, background)
    # Loaded before the app serves (about a second per 100k chunks), so /readyz is 200 and
    # every answer searches the whole index from the first request.
    background.load()
    background.start()

    def stop() -> None:
        background.stop()

    return stop
