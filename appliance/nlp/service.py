"""The loaded models, started by the app lifespan: the embedder and the sentiment model.

Both load (and answer one warm-up call) before the ``models`` component is ready, so
``/readyz`` stays 503 until the first real request would be served at full speed. Concurrent
sentiment requests are micro-batched: single texts arriving within a few milliseconds run as
one model call on one inference thread, never on the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from appliance.errors import NotReady
from appliance.nlp.batcher import MicroBatcher
from appliance.nlp.embedder import Embedder
from appliance.nlp.paths import ModelMissing, ModelPaths
from appliance.nlp.sentiment import SentimentModel, SentimentResult

if TYPE_CHECKING:
    from appliance.context import AppContext

log = logging.getLogger("appliance.nlp")
COMPONENT = "models"


@dataclass
class Models:
    embedder: Embedder
    sentiment: SentimentModel
    sentiment_batcher: MicroBatcher[str, SentimentResult]

    async def score(self, texts: list[str]) -> list[SentimentResult]:
        return await self.sentiment_batcher.submit_many(texts)


def models(ctx: AppContext) -> Models:
    """The loaded models; 503 ``not_ready`` while they are not (checked before any spend)."""
    loaded: Models | None = ctx.services.get("models")
    if loaded is None:
        state = ctx.components.snapshot().get(COMPONENT)
        detail = state.detail if state else "models are not loaded (load_models = false)"
        raise NotReady(f"the models are not available: {detail}")
    return loaded


def models_hook(ctx: AppContext) -> Callable[[], Awaitable[None]] | None:
    """Lifespan hook: load both models, warm them up, register them; returns the stop."""
    settings = ctx.settings
    if not settings.load_models:
        return None
    ctx.components.starting(COMPONENT, "loading the ONNX models")
    try:
        paths = ModelPaths.locate(settings.models_dir)
        embedder = Embedder(paths.embedder, threads=settings.model_threads)
        sentiment = SentimentModel(paths.sentiment, threads=settings.model_threads)
        embedder.embed(["Warm-up: revenue increased."])
        sentiment.score(["Warm-up: revenue increased."])
    except ModelMissing as exc:
        ctx.components.failed(COMPONENT, exc.message)
        log.error("%s", exc.message)
        return None
    batcher: MicroBatcher[str, SentimentResult] = MicroBatcher(
        sentiment.score,
        max_batch=settings.sentiment_max_batch,
        max_wait=settings.sentiment_batch_wait_ms / 1000,
        name="sentiment",
    )
    ctx.services["embedder"] = embedder
    ctx.services["models"] = Models(embedder, sentiment, batcher)
    ctx.components.ready(COMPONENT, f"{embedder.name}, {sentiment.name}")

    async def stop() -> None:
        await batcher.aclose()

    return stop
