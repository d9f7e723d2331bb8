"""Operations (admin): indexing jobs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appliance.api.responses import reply
from appliance.api.schemas import JobOut
from appliance.auth import current_admin
from appliance.context import get_ctx
from appliance.db.connection import MAX_SQL_INT
from appliance.db.queries import jobs as jq
from appliance.edgar.vocabulary import TICKER_MAX, TICKER_PATTERN
from appliance.errors import NotFound
from appliance.openapi import spec
from appliance.rag.service import rag_service
from appliance.validation import parse_query


class IndexQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"ticker": "MSFT"}]})
    ticker: str = Field(min_length=1, max_length=TICKER_MAX, pattern=TICKER_PATTERN)


class JobList(BaseModel):
    jobs: list[JobOut]


class JobsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str | None = Field(None, pattern=r"^(queued|running|done|failed)$")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_SQL_INT)


@spec(
    "Queue 'get this ticker's filings and index them' (admin); 202 with the job",
    query=IndexQuery,
    response=JobOut,
    statuses=(202, 400, 403, 404, 503),
    tags=("operations",),
)
async def index_ticker(request: Request) -> Response:
    user = current_admin(request)
    params = parse_query(request, IndexQuery)
    job, _created = await rag_service(get_ctx(request)).enqueue(params.ticker, user.id)
    return reply(JobOut, job.public(), status_code=202)


@spec(
    "One indexing job: state and progress (admin)",
    response=JobOut,
    statuses=(200, 403, 404),
    tags=("operations",),
)
async def get_job(request: Request) -> Response:
    current_admin(request)
    job_id = request.path_params["job_id"]
    job = None if job_id > MAX_SQL_INT else await get_ctx(request).db.read(jq.get, job_id)
    if job is None:
        raise NotFound(f"no indexing job with id {job_id}")
    return reply(JobOut, job.public())


@spec(
    "Indexing jobs, newest first (admin)",
    query=JobsQuery,
    response=JobList,
    statuses=(200, 403),
    tags=("operations",),
)
async def list_jobs(request: Request) -> Response:
    current_admin(request)
    params = parse_query(request, JobsQuery)
    jobs = await get_ctx(request).db.read(
        jq.list_jobs, status=params.status, limit=params.limit, offset=params.offset
    )
    return reply(JobList, {"jobs": [j.public() for j in jobs]})


routes = [
    Route("/ops/index", index_ticker, methods=["POST"]),
    Route("/ops/jobs", list_jobs, methods=["GET"]),
    Route("/ops/jobs/{job_id:int}", get_job, methods=["GET"]),
]
