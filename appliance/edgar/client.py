"""A polite EDGAR HTTP client (stdlib ``urllib``; no extra dependency).

SEC fair-access rules: a declared ``User-Agent`` naming the requester with a contact e-mail,
at most 10 requests per second in total, and backing off when told to. Concretely:

- the client refuses to exist without a User-Agent containing an e-mail address;
- one :class:`RateLimiter` spaces every request of every thread that shares it (the app
  keeps one per process); the interval is ``1 / max_rps``;
- 429 and 5xx answers, connection resets, timeouts and truncated bodies are retried with
  exponential backoff (honouring ``Retry-After``), up to ``max_retries`` times;
- responses are requested gzip-compressed and decompressed here;
- when the network is plainly absent (DNS failure, unreachable, refused) the first attempt
  fails fast with :class:`EdgarUnavailable` instead of retrying into a long wait.

Base URLs are parameters (settings ``edgar_www_url`` / ``edgar_data_url``), so tests run this
same client against a local server.
"""

from __future__ import annotations

import errno
import http.client
import logging
import re
import socket
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from appliance.edgar.errors import EdgarConfigError, EdgarUnavailable
from appliance.edgar.inflate import DEFAULT_MAX_BYTES, GZIP, ZLIB, TooLarge, bounded
from appliance.errors import ApplianceError, NotFound

if TYPE_CHECKING:
    from appliance.settings import Settings

__all__ = ["EdgarClient", "EdgarResponse", "RateLimiter", "validate_user_agent"]

log = logging.getLogger("appliance.edgar")

_EMAIL = re.compile(r"[^@\s<>()]+@[^@\s<>()]+\.[A-Za-z]{2,}")
_MAX_RETRY_AFTER = 60.0
_FAIL_FAST_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNREFUSED, errno.EADDRNOTAVAIL}


def validate_user_agent(user_agent: str | None) -> str:
    """The User-Agent to send; raises EdgarConfigError unless it names a contact e-mail."""
    if not user_agent or not _EMAIL.search(user_agent):
        raise EdgarConfigError(
            "EDGAR requires a declared User-Agent with a contact e-mail: set edgar_user_agent "
            "(env APPLIANCE_EDGAR_USER_AGENT), e.g. 'Acme Research admin@acme.com'"
        )
    return user_agent.strip()


class RateLimiter:
    """Spaces calls at least ``1 / rate`` seconds apart, across all threads using it."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def acquire(self) -> None:
        # Reserve a slot under the lock, sleep outside it: waiting threads queue in order.
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            self._sleep(delay)


@dataclass(frozen=True)
class EdgarResponse:
    url: str
    body: bytes
    last_modified: str | None
    attempts: int


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), _MAX_RETRY_AFTER)
    except ValueError:
        pass
    try:
        stamp = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(stamp.timestamp() - time.time(), 0.0), _MAX_RETRY_AFTER)


def _network_absent(exc: BaseException) -> bool:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, socket.gaierror):
        return True
    return isinstance(reason, OSError) and reason.errno in _FAIL_FAST_ERRNOS


class EdgarClient:
    """Fetches EDGAR resources politely. Thread-safe; share one per process."""

    def __init__(
        self,
        user_agent: str | None,
        *,
        www_url: str = "https://www.sec.gov",
        data_url: str = "https://data.sec.gov",
        limiter: RateLimiter | None = None,
        max_rps: float = 10.0,
        timeout: float = 30.0,
        max_retries: int = 4,
        max_decompressed_bytes: int = DEFAULT_MAX_BYTES,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.user_agent = validate_user_agent(user_agent)
        self.www_url = www_url.rstrip("/")
        self.data_url = data_url.rstrip("/")
        self.limiter = limiter or RateLimiter(max_rps)
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_decompressed_bytes = max_decompressed_bytes
        self.backoff = backoff
        self._sleep = sleep
        self._count_lock = threading.Lock()
        self.requests_sent = 0  # every HTTP attempt, for reports
        # No proxies from the environment: the appliance talks to EDGAR (or a mirror) only.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgarClient:
        """The client the settings describe (``edgar_*``); raises EdgarConfigError without a
        contact User-Agent."""
        return cls(
            settings.edgar_user_agent,
            www_url=settings.edgar_www_url,
            data_url=settings.edgar_data_url,
            max_rps=settings.edgar_max_rps,
            timeout=settings.edgar_timeout_seconds,
            max_retries=settings.edgar_max_retries,
            max_decompressed_bytes=settings.max_decompressed_bytes,
        )

    # ----- URLs -----
    def submissions_url(self, cik: int, page: str | None = None) -> str:
        name = page or f"CIK{cik:010d}.json"
        return f"{self.data_url}/submissions/{name}"

    def archives_url(self, cik: int, accession: str, document: str) -> str:
        return f"{self.www_url}/Archives/edgar/data/{cik}/{accession.replace('-', '')}/{document}"

    def ticker_file_url(self, exchange: bool = True) -> str:
        name = "company_tickers_exchange.json" if exchange else "company_tickers.json"
        return f"{self.www_url}/files/{name}"

    # ----- requests -----
    def get(self, url: str) -> EdgarResponse:
        """GET with rate limiting and retries. Raises NotFound (404), EdgarUnavailable."""
        attempt = 0
        while True:
            attempt += 1
            self.limiter.acquire()
            with self._count_lock:
                self.requests_sent += 1
            try:
                body, last_modified = self._once(url)
                return EdgarResponse(url, body, last_modified, attempt)
            except _Retryable as exc:
                if attempt > self.max_retries:
                    raise EdgarUnavailable(
                        f"EDGAR request failed after {attempt} attempts: {url}: {exc.reason}"
                    ) from None
                delay = self.backoff * 2 ** (attempt - 1)
                if exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                log.warning("EDGAR %s: %s; retry %d in %.2fs", url, exc.reason, attempt, delay)
                self._sleep(delay)

    def _once(self, url: str) -> tuple[bytes, str | None]:
        request = urllib.request.Request(
            url,
            headers={
                "User-Agent": self.user_agent,
                "Accept-Encoding": "gzip, deflate",
                "Accept": "*/*",
            },
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read()
                expected = response.headers.get("Content-Length")
                if expected is not None and expected.isdigit() and len(raw) != int(expected):
                    raise _Retryable(f"truncated body ({len(raw)} of {expected} bytes)")
                encoding = (response.headers.get("Content-Encoding") or "").lower()
                last_modified = response.headers.get("Last-Modified")
        except urllib.error.HTTPError as exc:
            status = exc.code
            retry_after = exc.headers.get("Retry-After")
            exc.close()  # the error carries the open response; release its socket now
            if status == 429 or 500 <= status < 600:
                raise _Retryable(f"HTTP {status}", _retry_after(retry_after)) from None
            if status == 404:
                raise NotFound("EDGAR answered 404 Not Found") from None
            raise ApplianceError(
                f"EDGAR answered HTTP {status} for {url}", status=502, code="edgar_error"
            ) from None
        except http.client.IncompleteRead as exc:
            raise _Retryable(f"truncated body ({len(exc.partial)} bytes read)") from None
        except TimeoutError as exc:
            raise _Retryable(f"timeout: {exc}") from None
        except urllib.error.URLError as exc:
            if _network_absent(exc):
                raise EdgarUnavailable(
                    f"cannot reach {url}: {exc.reason} (no network? EDGAR fetch needs internet "
                    "access; use `appliance filings import` for offline files)"
                ) from None
            raise _Retryable(f"connection error: {exc.reason}") from None
        except (ConnectionError, http.client.HTTPException) as exc:
            raise _Retryable(f"connection error: {exc}") from None
        return self._decode(raw, encoding), last_modified

    def _decode(self, raw: bytes, encoding: str) -> bytes:
        try:
            if encoding in ("gzip", "deflate"):
                wbits = GZIP if encoding == "gzip" else ZLIB
                return bounded(raw, self.max_decompressed_bytes, wbits)
        except TooLarge as exc:
            raise ApplianceError(f"EDGAR response {exc}", status=502, code="edgar_error") from None
        except (OSError, EOFError, zlib.error) as exc:
            raise _Retryable(f"corrupt {encoding} body: {exc}") from None
        return raw
