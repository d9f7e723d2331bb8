"""``POST /v1/nlp/sentiment``: financial sentiment of one text or a batch."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance.auth import current_user
from appliance.context import get_ctx
from appliance.nlp.sentiment import SentimentResult
from appliance.nlp.service import models
from appliance.openapi import spec
from appliance.validation import parse_json

MAX_TEXT_CHARS = 20_000
MAX_TEXTS = 64

Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]


def _not_blank(value: str, field: str) -> str:
    if not value.strip():
        raise ValueError(f"{field} must contain some non-space text")
    return value


class SentimentRequest(BaseModel):
    """Exactly one of ``text`` or ``texts`` (up to 64, each up to 20,000 characters)."""

    model_config = ConfigDict(extra="forbid")
    text: Text | None = None
    texts: list[Text] | None = Field(None, min_length=1, max_length=MAX_TEXTS)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return None if value is None else _not_blank(value, "text")

    @field_validator("texts")
    @classmethod
    def _texts(cls, values: list[str] | None) -> list[str] | None:
        if values is not None:
            for i, value in enumerate(values):
                _not_blank(value, f"texts[{i}]")
        return values

    @model_validator(mode="after")
    def _exactly_one(self) -> SentimentRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("send exactly one of 'text' or 'texts'")
        return self

    def inputs(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


def _result(result: SentimentResult) -> dict[str, Any]:
    return {
        "label": result.label,
        "scores": result.scores,
        "sentences": [
            {"text": s.text, "label": s.label, "scores": s.scores, "weight": s.weight}
            for s in result.sentences
        ],
    }


@spec(
    "Financial sentiment (negative / neutral / positive) of a text or up to 64 texts",
    body=SentimentRequest,
    statuses=(200, 402, 429, 503),
    tags=("nlp",),
)
async def sentiment(request: Request) -> Response:
    ctx = get_ctx(request)
    current_user(request)  # 401 first: an anonymous caller learns nothing of the body
    body = await parse_json(request, SentimentRequest)
    loaded = models(ctx)  # 503 before anything is spent
    texts = body.inputs()

    async def work() -> dict[str, Any]:
        results = await loaded.score(texts)
        name = loaded.sentiment.name
        if body.text is not None:
            return {**_result(results[0]), "model": name}
        return {"results": [_result(r) for r in results], "model": name}

    cost = ctx.settings.cost_sentiment * len(texts)
    return await ctx.billing.run(request, "sentiment", cost, work)


routes = [Route("/v1/nlp/sentiment", sentiment, methods=["POST"])]
