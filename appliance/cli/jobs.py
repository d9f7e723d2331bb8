"""``appliance jobs list|show|cancel``: the background indexer's queue (``/ops/jobs``)."""

from __future__ import annotations

import argparse
from typing import Any

from appliance.cli.common import EXIT_FAILED, emit_json, read, settings_from, warn, write
from appliance.db.queries import jobs as jq
from appliance.errors import InvalidPayload, NotFound

STATUSES = ("queued", "running", "done", "failed")


def register(sub: Any) -> None:
    jobs = sub.add_parser("jobs", help="indexing jobs of the background indexer")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    lst = jobs_sub.add_parser("list", help="jobs, newest first")
    lst.add_argument("--status", choices=STATUSES, help="only jobs in this state")
    lst.add_argument("--limit", type=int, default=50)
    lst.add_argument("--json", action="store_true", help="print JSON lines")
    lst.set_defaults(func=jobs_list)
    show = jobs_sub.add_parser("show", help="one job with its progress and error")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(func=jobs_show)
    cancel = jobs_sub.add_parser(
        "cancel",
        help="cancel a queued job, or stop a running one after its current batch",
    )
    cancel.add_argument("id", type=int)
    cancel.add_argument("--json", action="store_true", help="print one JSON object")
    cancel.set_defaults(func=jobs_cancel)


def _line(job: jq.Job) -> str:
    ticker = "(all)" if job.ticker == jq.ALL else job.ticker
    progress = f"{job.progress_done}/{job.progress_total} sections, {job.chunks} chunks"
    error = f"  error: {job.error}" if job.error else ""
    return (
        f"{job.id}\t{ticker}\t{job.status}\t{job.phase or '-'}\t{progress}\t{job.created_at}{error}"
    )


def jobs_list(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise InvalidPayload("--limit must be at least 1")
    rows = read(settings_from(args), jq.list_jobs, status=args.status, limit=args.limit)
    if args.json:
        for job in rows:
            emit_json(job.public())
        return 0
    print("id\tticker\tstatus\tphase\tprogress\tcreated_at")
    for job in rows:
        print(_line(job))
    return 0


def _get(args: argparse.Namespace) -> jq.Job:
    job = read(settings_from(args), jq.get, args.id)
    if job is None:
        raise NotFound(f"no indexing job {args.id}")
    return job


def jobs_show(args: argparse.Namespace) -> int:
    job = _get(args)
    if args.json:
        emit_json(job.public())
        return 0
    for key, value in job.public().items():
        print(f"{key:20s} {value}")
    return 0


def jobs_cancel(args: argparse.Namespace) -> int:
    before = _get(args)
    job = write(settings_from(args), jq.cancel, args.id)
    assert job is not None
    if args.json:
        emit_json(job.public())
    if before.status in ("done", "failed"):
        warn(f"job {job.id} already finished ({job.status}); nothing to cancel")
        return EXIT_FAILED
    if not args.json:
        if job.status == "failed":
            print(f"cancelled job {job.id}")
        else:
            print(
                f"job {job.id} is running: the server stops it after its current batch "
                "(sections indexed so far stay indexed)"
            )
    return 0
