"""A local stand-in for EDGAR on 127.0.0.1: the shared files under EDGAR's URL patterns.

Serves ``/files/company_tickers_exchange.json``, ``/submissions/CIK##########.json`` and
``/Archives/edgar/data/{cik}/{accession-no-dashes}/{document}``, gzip-encoded when asked, and
can answer a scripted sequence of faults per path (an HTTP status such as 429 or 503, or
``"truncate"`` for a body cut short of its Content-Length). Records every request.
"""

from __future__ import annotations

import gzip
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from appliance.edgar.layout import format_accession
from appliance.edgar.sample import sample_dir
from tests.support.edgar_data import FILINGS, SUBMISSIONS

_ARCHIVES = re.compile(r"^/Archives/edgar/data/(\d+)/(\d{18})/([^/]+)$")


@dataclass
class Seen:
    at: float
    path: str
    headers: dict[str, str]


@dataclass
class EdgarStub:
    faults: dict[str, list[int | str]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    base: str = ""
    last_modified: str = "Sun, 14 Dec 2025 08:00:00 GMT"
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def body_for(self, path: str) -> bytes | None:
        if path == "/files/company_tickers_exchange.json":
            return gzip.decompress((sample_dir() / "company_tickers_exchange.json.gz").read_bytes())
        if m := re.match(r"^/submissions/(CIK\d{10}(?:-submissions-\d{3})?\.json)$", path):
            for folder in ("2026_edgartools_cassettes", "2023-09_sec_edgar_downloader"):
                candidate = SUBMISSIONS / folder / f"{m.group(1)}.gz"
                if candidate.exists():
                    return gzip.decompress(candidate.read_bytes())
            return None
        if m := _ARCHIVES.match(path):
            accession = format_accession(m.group(2))
            for filing in FILINGS.rglob("*.gz"):
                if accession and accession in filing.name and "-index_" not in filing.name:
                    return gzip.decompress(filing.read_bytes())
        return None

    def next_fault(self, path: str) -> int | str | None:
        with self._lock:
            queue = self.faults.get(path)
            return queue.pop(0) if queue else None


def _handler(stub: EdgarStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

        def do_GET(self) -> None:
            with stub._lock:
                stub.requests.append(Seen(time.monotonic(), self.path, dict(self.headers)))
            fault = stub.next_fault(self.path)
            if isinstance(fault, int):
                body = b"slow down" if fault == 429 else b"unavailable"
                self.send_response(fault)
                if fault == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            body = stub.body_for(self.path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "9")
                self.end_headers()
                self.wfile.write(b"not found")
                return
            gzipped = "gzip" in (self.headers.get("Accept-Encoding") or "")
            payload = gzip.compress(body, compresslevel=1) if gzipped else body
            self.send_response(200)
            if gzipped:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Last-Modified", stub.last_modified)
            self.end_headers()
            if fault == "truncate":
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

    return Handler


@contextmanager
def edgar_stub() -> Iterator[EdgarStub]:
    stub = EdgarStub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="edgar-stub", daemon=True)
    thread.start()
    stub.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def read_saved(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())
