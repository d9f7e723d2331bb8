"""``/auth/session``: the web console's sign-in (e-mail + password, or a pasted API key),
kept in an HttpOnly cookie; see :mod:`appliance.sessions`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance.api import signin
from appliance.api.responses import JSON, as_json
from appliance.api.schemas import UserOut
from appliance.auth import KEY_PREFIX, current_user
from appliance.billing.quota import user_json
from appliance.context import get_ctx
from appliance.errors import InvalidCredentials, Unauthorized
from appliance.openapi import spec
from appliance.sessions import Session, check_origin
from appliance.validation import parse_json, require_json


class SessionCreate(BaseModel):
    """E-mail and password, or an API key."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "admin@localhost", "password": "secret"}]},
    )
    email: str | None = Field(None, min_length=3, max_length=254)
    password: str | None = Field(None, min_length=1, max_length=1024)
    api_key: str | None = Field(None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_way(self) -> SessionCreate:
        by_password = self.email is not None and self.password is not None
        if by_password == (self.api_key is not None) or (
            self.api_key is not None and (self.email or self.password)
        ):
            raise ValueError("send either 'email' and 'password', or 'api_key'")
        return self


class SessionOut(BaseModel):
    signed_in: bool
    user: UserOut | None = None
    csrf_token: str | None = Field(
        None, description="Send as X-CSRF-Token on state-changing requests."
    )
    expires_at: str | None = None
    via: Literal["password", "api_key"] | None = None


def _body(session: Session | None, free_monthly: int) -> dict[str, object]:
    if session is None:
        return {"signed_in": False}
    return as_json(
        SessionOut,
        {
            "signed_in": True,
            "user": user_json(session.user, free_monthly),
            "csrf_token": session.csrf_token,
            "expires_at": session.expires_at,
            "via": session.via,
        },
    )


@spec(
    "Sign the console in: sets an HttpOnly, SameSite=Strict session cookie",
    body=SessionCreate,
    response=SessionOut,
    auth=False,
    statuses=(201, 401, 403, 415, 429),
    tags=("auth",),
)
async def create_session(request: Request) -> Response:
    # A page of another site can post a form (text/plain, urlencoded) here without asking,
    # but not JSON: that needs a CORS preflight, which is refused. So JSON only (415, as
    # /auth/token answers).
    require_json(request)
    check_origin(request.scope)
    body = await parse_json(request, SessionCreate)
    ctx = get_ctx(request)
    key_id: int | None = None
    if body.api_key is not None:
        if not body.api_key.startswith(f"{KEY_PREFIX}_"):
            raise InvalidCredentials("paste an API key (apk_...)")
        try:
            user, credential = await ctx.auth.resolve_credential(body.api_key.strip())
        except Unauthorized as exc:
            raise InvalidCredentials("invalid or revoked API key") from exc
        key_id = int(credential.removeprefix("key:"))
    else:
        assert body.email is not None and body.password is not None
        user = await signin.by_password(ctx, request, body.email, body.password)
    token, session = await ctx.sessions.create(user, key_id)
    response = JSON(_body(session, ctx.settings.free_monthly_credits), status_code=201)
    secure = request.url.scheme == "https"
    response.headers["set-cookie"] = ctx.sessions.set_cookie(token, secure)
    return response


@spec(
    "This browser's console session, if any: its user and CSRF token",
    response=SessionOut,
    auth=False,
    tags=("auth",),
)
async def read_session(request: Request) -> Response:
    # Public, and 200 either way: a signed-out console asks on every load, and an expired
    # cookie is simply no session.
    session: Session | None = getattr(request.state, "session", None)
    return JSON(_body(session, get_ctx(request).settings.free_monthly_credits))


class SignedOut(BaseModel):
    signed_out: bool


@spec("Sign the console out: ends the session", response=SignedOut, tags=("auth",))
async def delete_session(request: Request) -> Response:
    current_user(request)
    ctx = get_ctx(request)
    token = ctx.sessions.token_of(request.scope)
    if token is not None:
        await ctx.sessions.end(token)
    response = JSON({"signed_out": token is not None})
    response.headers["set-cookie"] = ctx.sessions.clear_cookie(request.url.scheme == "https")
    return response


routes = [
    Route("/auth/session", create_session, methods=["POST"], name="create_session"),
    Route("/auth/session", read_session, methods=["GET"], name="read_session"),
    Route("/auth/session", delete_session, methods=["DELETE"], name="delete_session"),
]
