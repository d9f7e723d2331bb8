"""One log format for everything the process writes: ours, uvicorn's, Stripe's, HTTP clients'.

Every line carries an ISO-8601 UTC timestamp, the level, the logger and, inside a request,
its request id. ``log_format = "json"`` writes one JSON object per line (for a service
manager or a log shipper); ``"text"`` writes ``time LEVEL logger: message key=value`` for a
person at a terminal (the default when stderr is one).

Secrets never reach the stream: keys, tokens, license keys and Stripe secrets are recognised by
their shape and replaced in the finished line, whoever logged them (our code, a library's
debug line, an exception message). The admin key printed on a first start goes to standard
output, never through logging.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

LogFormat = Literal["json", "text"]

# The request being served by this task (and the threads it hands work to).
REQUEST_ID: ContextVar[str | None] = ContextVar("appliance_request_id", default=None)

# Loggers of libraries whose lines go through the same handler; uvicorn's own handlers are
# never installed (serve passes log_config=None), so everything propagates to the root.
LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "stripe", "httpx", "urllib3")

_SECRETS = re.compile(
    r"apk_[0-9a-f]{8}_[A-Za-z0-9_-]+"  # API keys
    r"|at1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"  # access tokens
    r"|APL1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"  # license keys
    r"|\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]+"  # Stripe API keys
    r"|\bwhsec_[A-Za-z0-9+/=]+"  # Stripe webhook secrets
    r"|(?i:bearer)\s+[^\s\"',]+"  # any bearer credential
)


def redact(text: str) -> str:
    """``text`` with everything shaped like a secret replaced by its kind."""
    return _SECRETS.sub(_mask, text)


_KEEP = re.compile(r"^(?:apk_|at1\.|APL1\.|(?:sk|rk|pk)_(?:live|test)_|whsec_|bearer\s+)", re.I)


def _mask(match: re.Match[str]) -> str:
    """Keeps the kind (``apk_``, ``sk_test_``, ``Bearer`` ...) so the line still says what
    was there."""
    kind = _KEEP.match(match.group(0))
    return f"{kind.group(0) if kind else ''}[redacted]"


def utc_stamp(created: float) -> str:
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{whole}.{int(created * 1000) % 1000:03d}Z"


def _request_id(record: logging.LogRecord) -> str | None:
    explicit = getattr(record, "request_id", None)
    return str(explicit) if explicit else REQUEST_ID.get()


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": utc_stamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = _request_id(record)
        if request_id:
            out["request_id"] = request_id
        out.update(_fields(record))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(out, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [
            utc_stamp(record.created),
            f"{record.levelname:<7}",
            f"{record.name}:",
            record.getMessage(),
        ]
        request_id = _request_id(record)
        if request_id:
            parts.append(f"request_id={request_id}")
        parts += [f"{k}={_text_value(v)}" for k, v in _fields(record).items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


def _text_value(value: Any) -> str:
    text = "-" if value is None else str(value)
    return json.dumps(text) if (" " in text or not text) else text


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    appliance_handler = True

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def resolve_format(configured: LogFormat | None) -> LogFormat:
    if configured is not None:
        return configured
    return "text" if sys.stderr.isatty() else "json"


def formatter_for(fmt: LogFormat) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure(level: str = "info", fmt: LogFormat | None = None) -> LogFormat:
    """Route every logger of the process to one stderr handler in one format.

    Replaces only the handler this module installed (a test runner's capture handlers on the
    root logger stay), and removes the handlers libraries install on their own loggers, so
    nothing is written twice or in another shape.
    """
    chosen = resolve_format(fmt)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "appliance_handler", False):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(formatter_for(chosen))
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
        library.setLevel(logging.NOTSET)
    return chosen


@contextmanager
def request_context(request_id: str) -> Iterator[None]:
    """Log lines written while handling one request carry its id."""
    token = REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)
