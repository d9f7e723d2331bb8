"""``@billable``: the one declaration of a metered endpoint.

One decorator names the meter (the usage events' ``endpoint``), how many credits a call costs,
the request model and the response model, and from that one declaration come:

- the order every billable request is answered in: the caller (401), the input (400), what
  must be ready before anything is spent (``ready``: 503/404), then the meter (429, 402,
  Idempotency-Key replays, 409, 422), the work, and a refund when the work fails or the
  client hangs up before its answer (``api/hangup.py`` cancels the work; 499 in the log);
- the JSON built through the response model, with ``X-Credits-Remaining`` and ``RateLimit-*``;
  an answer the work marks :class:`Unbilled` is built the same way and costs nothing (the
  meter gives the charge back and records the outcome);
- the OpenAPI operation: the ``Idempotency-Key`` header, the 402/409/422/429 answers, the
  billing headers and the cost.

A handler so declared is only the work::

    @billable("sentiment", "Financial sentiment ...", body=SentimentRequest,
              response=SentimentOut, cost=lambda s, b: s.cost_sentiment * len(b.inputs()),
              cost_doc="cost_sentiment credits per text", ready=models)
    async def sentiment(call: Call[SentimentRequest]) -> dict[str, Any]:
        ...

``tests/test_billable.py`` calls every route and fails when one spends credits without this
declaration (or declares it and does not).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from appliance.api.hangup import until_hangup
from appliance.api.responses import as_json, render_json
from appliance.auth import current_user
from appliance.billing.errors import ClientGone
from appliance.billing.quota import UNBILLED_STATUSES
from appliance.billing.service import CLIENT_CLOSED, Answer, Charge
from appliance.context import AppContext, get_ctx
from appliance.db.queries.users import User
from appliance.openapi import EndpointSpec
from appliance.settings import Settings
from appliance.validation import parse_json, validate

B = TypeVar("B", bound=BaseModel)
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Call(Generic[B]):
    """One billable request, authenticated and validated: what the work needs."""

    request: Request
    ctx: AppContext
    user: User
    input: B


@dataclass(frozen=True)
class Unbilled:
    """An answer (200, ``body`` built through the response model) that is not billable: the
    meter gives its charge back and records its usage event with cost 0 and ``status`` (one of
    :data:`appliance.billing.quota.UNBILLED_STATUSES`)."""

    body: dict[str, Any]
    status: str

    def __post_init__(self) -> None:
        # Raised inside the work, so the meter refunds it: it could not record another outcome.
        if self.status not in UNBILLED_STATUSES:
            raise ValueError(f"not an unbilled status: {self.status!r}")


# The work answers a dict (built through the declared response model, 200), an Unbilled (the
# same, free) or, for an error it reports rather than raises, a Response (>= 400: refunded).
Work = Callable[[Call[B]], Awaitable[dict[str, Any] | Unbilled | Response]]


@dataclass(frozen=True)
class Billable(Generic[B]):
    """A billable endpoint's declaration (``endpoint.__billable__``)."""

    endpoint: str
    cost: Callable[[Settings, B], int]
    cost_doc: str
    response: type[BaseModel]


def billable(
    endpoint: str,
    summary: str,
    *,
    response: type[BaseModel],
    cost: Callable[[Settings, B], int],
    cost_doc: str,
    body: type[B] | None = None,
    query: type[B] | None = None,
    ready: Callable[[AppContext], object] | None = None,
    statuses: tuple[int, ...] = (200,),
    tags: tuple[str, ...] = (),
    description: str | None = None,
) -> Callable[[Work[B]], Endpoint]:
    """Declare a billable endpoint (see the module docstring). ``query`` models also receive
    the path parameters; ``ready`` raises (NotReady, NotFound) to refuse before any spend."""
    if (body is None) == (query is None):
        raise TypeError("a billable endpoint declares exactly one of body= or query=")
    declaration: Billable[B] = Billable(endpoint, cost, cost_doc, response)

    def decorate(work: Work[B]) -> Endpoint:
        async def handle(request: Request) -> Response:
            user = current_user(request)  # 401 first: an anonymous caller learns nothing
            if body is not None:
                parsed = await parse_json(request, body)
            else:
                assert query is not None
                parsed = validate(query, {**request.query_params, **request.path_params})
            ctx = get_ctx(request)
            if ready is not None:
                ready(ctx)
            call = Call(request, ctx, user, parsed)

            async def answer() -> Answer:
                # A client that hangs up cancels the work; the meter refunds (ClientGone).
                result = await until_hangup(request, lambda: work(call))
                if isinstance(result, Response):
                    return Answer(result.status_code, bytes(result.body), result.media_type or "")
                if isinstance(result, Unbilled):
                    body = render_json(as_json(response, result.body))
                    return Answer(200, body, unbilled=result.status)
                return Answer(200, render_json(as_json(response, result)))

            key = request.headers.get("idempotency-key")
            charge = Charge(
                user_id=user.id,
                credential=getattr(request.state, "credential_id", None) or f"user:{user.id}",
                endpoint=endpoint,
                cost=cost(ctx.settings, parsed),
                request_id=str(getattr(request.state, "request_id", "")),
                idempotency_key=key,
                body=await _digested(request, body is not None) if key is not None else b"",
            )
            try:
                metered = await ctx.billing.run(charge, answer)
            except ClientGone:
                # Refunded; the client is gone, so this answer is only for the access log.
                return Response(status_code=CLIENT_CLOSED)
            return Response(
                metered.answer.body,
                metered.answer.status,
                headers=metered.headers,
                media_type=metered.answer.media_type,
            )

        handle.__name__ = work.__name__
        handle.__doc__ = work.__doc__
        handle.__billable__ = declaration  # type: ignore[attr-defined]
        handle.__openapi__ = EndpointSpec(  # type: ignore[attr-defined]
            summary,
            body=body,
            query=query,
            response=response,
            statuses=statuses,
            tags=tags,
            description=description,
            billable=endpoint,
            cost=cost_doc,
        )
        return handle

    return decorate


async def _digested(request: Request, has_body: bool) -> bytes:
    """What an Idempotency-Key is bound to: the body, or for a GET the path and query (two
    different questions under one key must not replay each other's answer)."""
    if has_body:
        return await request.body()
    return f"{request.url.path}?{request.url.query}".encode()


def declaration_of(endpoint: object) -> Billable[Any] | None:
    found: Billable[Any] | None = getattr(endpoint, "__billable__", None)
    return found
