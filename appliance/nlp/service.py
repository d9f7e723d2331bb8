"""The loaded models, started by the app lifespan: the embedders and the sentiment model.

All load (and answer one warm-up call) before the ``models`` component is ready, so
``/readyz`` stays 503 until the first real request would be served at full speed. Concurrent
sentiment requests are micro-batched: single texts arriving within a few milliseconds run as
one model call on one inference thread, never on the event loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from appliance.components import Components
from appliance.errors import NotReady
from appliance.nlp.batcher import MicroBatcher
from appliance.nlp.embedder import Embedder
from appliance.nlp.paths import ModelMissing, ModelPaths
from appliance.nlp.sentiment import SentimentModel, SentimentResult
from appliance.settings import Settings

if TYPE_CHECKING:
    from appliance.context import AppContext

log = logging.getLogger("appliance.nlp")
COMPONENT = "models"


@dataclass
class Models:
    embedder: Embedder  # questions (and, with ``passage_encoder = "embedder"``, passages)
    passage_encoder: Embedder  # what the indexer embeds chunks with
    sentiment: SentimentModel
    sentiment_batcher: MicroBatcher[str, SentimentResult]

    async def score(self, texts: list[str]) -> list[SentimentResult]:
        return await self.sentiment_batcher.submit_many(texts)

    async def aclose(self) -> None:
        await self.sentiment_batcher.aclose()


def models(ctx: AppContext) -> Models:
    """The loaded models; 503 ``not_ready`` while they are not (checked before any spend)."""
    loaded = ctx.models
    if loaded is None:
        state = ctx.components.snapshot().get(COMPONENT)
        detail = state.detail if state else "models are not loaded (load_models = false)"
        raise NotReady(f"the models are not available: {detail}")
    return loaded


def open_embedder(settings: Settings) -> Embedder:
    """The embedder, the one place it is loaded (the app's models and ``appliance index``).
    Raises ModelMissing."""
    return Embedder(ModelPaths.locate(settings.models_dir).embedder, threads=settings.model_threads)


def open_passage_encoder(settings: Settings, embedder: Embedder | None = None) -> Embedder:
    """What embeds passages at indexing (``settings.passage_encoder``): the distilled passage
    encoder, or the question embedder itself (``embedder`` if given, else loaded here).
    Raises ModelMissing."""
    if settings.passage_encoder == "embedder":
        return embedder or open_embedder(settings)
    return Embedder(
        ModelPaths.locate(settings.models_dir).passage_encoder,
        threads=settings.model_threads,
        hint="models/passage-encoder is committed: restore it from git, or set"
        ' passage_encoder = "embedder"',
    )


def load_models(settings: Settings, components: Components) -> Models | None:
    """Load the models and warm them up; None when ``load_models`` is off or they are
    missing (the ``models`` component then says why, and search runs keyword-only)."""
    if not settings.load_models:
        return None
    components.starting(COMPONENT, "loading the ONNX models")
    try:
        paths = ModelPaths.locate(settings.models_dir)
        embedder = open_embedder(settings)
        passage_encoder = open_passage_encoder(settings, embedder)
        sentiment = SentimentModel(paths.sentiment, threads=settings.model_threads)
        embedder.embed(["Warm-up: revenue increased."])
        if passage_encoder is not embedder:
            passage_encoder.embed(["Warm-up: revenue increased."])
        sentiment.score(["Warm-up: revenue increased."])
    except ModelMissing as exc:
        components.failed(COMPONENT, exc.message)
        log.error("%s", exc.message)
        return None
    batcher: MicroBatcher[str, SentimentResult] = MicroBatcher(
        sentiment.score,
        max_batch=settings.sentiment_max_batch,
        max_wait=settings.sentiment_batch_wait_ms / 1000,
        name="sentiment",
    )
    names = [embedder.name, sentiment.name]
    if passage_encoder is not embedder:
        names.insert(1, passage_encoder.name)
    components.ready(COMPONENT, ", ".join(names))
    return Models(embedder, passage_encoder, sentiment, batcher)
