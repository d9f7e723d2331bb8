"""Start the real appliance (`python -m appliance serve`) on a free loopback port."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    base: str
    admin_key: str
    proc: subprocess.Popen[str]
    data_dir: Path

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if key:
            hdrs["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None, dict(r.headers)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None, dict(exc.headers)


@contextlib.contextmanager
def live_server(
    data_dir: Path,
    timeout: float = 120,
    admin_key: str | None = None,
    port: int | None = None,
    **env_extra: str,
) -> Iterator[LiveServer]:
    """``admin_key``: the data dir is already initialised with this admin key (nothing is
    printed at start then); otherwise the key the first start prints is used."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env.update(APPLIANCE_DATA_DIR=str(data_dir), APPLIANCE_PORT=str(port), **env_extra)
    env.setdefault("APPLIANCE_ACCESS_LOG", "false")
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance", "serve"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    try:
        key = admin_key
        deadline = time.time() + timeout
        while key is None and time.time() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            if line.strip().startswith("apk_"):
                key = line.strip()
        assert key, "the first start prints the admin key"
        base = f"http://127.0.0.1:{port}"
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        else:
            raise TimeoutError("server never became ready")
        # Drain stderr so the server never blocks on a full pipe.
        import threading

        threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield LiveServer(base, key, proc, data_dir)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)
        proc.stderr.close()


def fire(
    base: str,
    path: str,
    body: Any,
    headers: dict[str, str],
    requests_per_thread: int,
    threads: int,
) -> list[tuple[int, str, str | None]]:
    """POST ``body`` to ``path`` from ``threads`` threads released together; returns
    (status, response body, X-Credits-Remaining) per request. Module-level so separate
    processes (spawn) can run it too."""
    import threading

    results: list[tuple[int, str, str | None]] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)
    data = json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json", **headers}

    def worker() -> None:
        start.wait()
        for _ in range(requests_per_thread):
            req = urllib.request.Request(base + path, data=data, method="POST", headers=hdrs)
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    got = (r.status, r.read().decode(), r.headers.get("X-Credits-Remaining"))
            except urllib.error.HTTPError as exc:
                got = (exc.code, exc.read().decode(), exc.headers.get("X-Credits-Remaining"))
            with lock:
                results.append(got)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results
