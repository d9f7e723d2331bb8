"""Response models shared by several resources.

Handlers build their JSON through these (see :func:`appliance.api.responses.reply`) and the
OpenAPI document takes its response schemas from them, so the two cannot disagree. Models used
by one resource only live in that resource's module.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class QuotaOut(BaseModel):
    """A user's credits (``GET /v1/quota``); every surface that shows a balance uses these
    names and figures (one balance everywhere)."""

    remaining: int = Field(description="Credits spendable now: allowance plus purchased.")
    allowance_remaining: int = Field(description="Left of this month's allowance.")
    monthly_allowance: int
    purchased: int = Field(description="Purchased credits (may be negative after a clawback).")
    plan: str
    resets_at: str = Field(description="When the monthly allowance renews (UTC).")


class UserOut(QuotaOut):
    """A user: who they are, and their credits as ``GET /v1/quota`` shows them."""

    id: int
    email: str
    is_admin: bool
    disabled: bool = Field(description="A disabled user's keys, tokens and sessions are refused.")
    created_at: str


class UserWithKey(UserOut):
    api_key: str = Field(description="The new user's first API key; shown once.")


class KeyOut(BaseModel):
    id: int
    prefix: str
    name: str | None
    created_at: str
    last_used_at: str | None
    revoked: bool
    revoked_at: str | None


class KeyCreated(KeyOut):
    api_key: str = Field(description="The key itself; shown once, stored hashed.")


class KeyList(BaseModel):
    keys: list[KeyOut]


class JobProgress(BaseModel):
    done: int
    total: int
    filings: int
    chunks: int


class JobOut(BaseModel):
    job_id: int
    ticker: str | None
    status: str = Field(description="queued, running, done or failed")
    source: str | None
    phase: str | None
    progress: JobProgress
    attempts: int
    error: str | None
    created_at: str
    started_at: str | None
    updated_at: str
    finished_at: str | None
    cancel_requested_at: str | None = Field(
        None,
        description="When the operator asked to cancel it (`appliance jobs cancel`); a"
        " running job stops after its current batch and ends failed.",
    )


class Status(BaseModel):
    status: str
