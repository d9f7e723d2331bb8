"""Response models shared by several resources.

Handlers build their JSON through these (see :func:`appliance.api.responses.reply`) and the
OpenAPI document takes its response schemas from them, so the two cannot disagree. Models used
by one resource only live in that resource's module.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class UserOut(BaseModel):
    id: int
    email: str
    is_admin: bool
    plan: str
    quota_remaining: int = Field(description="Purchased credits (the monthly allowance aside).")
    quota_monthly: int
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


class Status(BaseModel):
    status: str
