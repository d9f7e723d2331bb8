"""``POST /v1/nlp/sentiment``: financial sentiment of one text or a batch."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator
from starlette.routing import Route

from appliance.api.billable import Call, billable
from appliance.nlp.sentiment import SentimentResult
from appliance.nlp.service import models
from appliance.settings import Settings

MAX_TEXT_CHARS = 20_000
MAX_TEXTS = 64

Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]


def _not_blank(value: str, field: str) -> str:
    if not value.strip():
        raise ValueError(f"{field} must contain some non-space text")
    return value


class SentimentRequest(BaseModel):
    """Exactly one of ``text`` or ``texts`` (up to 64, each up to 20,000 characters)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn."},
                {"texts": ["Beats EPS; raises guidance", "Shares fell 12% after the recall."]},
            ]
        },
    )
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


Label = Literal["negative", "neutral", "positive"]


class Scores(BaseModel):
    negative: float
    neutral: float
    positive: float


class SentenceSentiment(BaseModel):
    text: str
    label: Label
    scores: Scores
    weight: float = Field(
        description="The sentence's share of its text's scores (the weights sum to 1):"
        " outlook and bottom-line sentences outweigh boilerplate."
    )


class TextSentiment(BaseModel):
    label: Label
    scores: Scores
    sentences: list[SentenceSentiment] = Field(description="Each sentence scored on its own.")


class OneSentiment(TextSentiment):
    """The answer to ``{"text"}``."""

    model: str = Field(description="The sentiment model's name and version.")


class ManySentiments(BaseModel):
    """The answer to ``{"texts"}``: one result per text, in order."""

    results: list[TextSentiment]
    model: str


class SentimentOut(RootModel[OneSentiment | ManySentiments]):
    pass


def _cost(settings: Settings, body: SentimentRequest) -> int:
    return settings.cost_sentiment * len(body.inputs())


def _result(result: SentimentResult) -> dict[str, Any]:
    return {
        "label": result.label,
        "scores": result.scores,
        "sentences": [
            {"text": s.text, "label": s.label, "scores": s.scores, "weight": s.weight}
            for s in result.sentences
        ],
    }


@billable(
    "sentiment",
    "Financial sentiment (negative / neutral / positive) of a text or up to 64 texts",
    body=SentimentRequest,
    response=SentimentOut,
    cost=_cost,
    cost_doc="cost_sentiment credits per text",
    ready=models,  # 503 before anything is spent
    statuses=(200, 503),
    tags=("nlp",),
)
async def sentiment(call: Call[SentimentRequest]) -> dict[str, Any]:
    loaded = models(call.ctx)
    body = call.input
    results = await loaded.score(body.inputs())
    name = loaded.sentiment.name
    if body.text is not None:
        return {**_result(results[0]), "model": name}
    return {"results": [_result(r) for r in results], "model": name}


routes = [Route("/v1/nlp/sentiment", sentiment, methods=["POST"])]
