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
    log: Path | None = None  # the server's stderr (its log stream), when the run keeps it

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


def server_log(name: str) -> Any:
    """Where a live server's stderr goes: the run's log folder (checked for secrets at the
    end, see tests/log_audit.py), else nowhere."""
    folder = os.environ.get("TEST_SERVER_LOG_DIR")
    if not folder:
        return open(os.devnull, "w")
    path = Path(folder) / f"{name}-{os.getpid()}-{time.monotonic_ns()}.log"
    return path.open("w", encoding="utf-8")


def appliance_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env.update(APPLIANCE_DATA_DIR=str(data_dir), **extra)
    return env


@contextlib.contextmanager
def live_server(data_dir: Path, timeout: float = 120, **env_extra: str) -> Iterator[LiveServer]:
    port = free_port()
    env = appliance_env(data_dir, APPLIANCE_PORT=str(port), **env_extra)
    env.setdefault("APPLIANCE_ACCESS_LOG", "false")
    # The admin key comes from `appliance init --json` (stdout), never from the server's log.
    init = subprocess.run(
        [sys.executable, "-m", "appliance", "init", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    key = json.loads(init.stdout)["admin_api_key"]
    assert key, "a fresh data dir gets an admin"
    log = server_log("serve")
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance", "serve"],
        env=env,
        stderr=log,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        else:
            raise TimeoutError("server never became ready")
        log_path = None if log.name == os.devnull else Path(log.name)
        yield LiveServer(base, key, proc, data_dir, log_path)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)
        log.close()


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


def appliance_cli(
    *args: str,
    data_dir: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m appliance ARGS`` as an operator would (a clean APPLIANCE_* environment
    plus ``env``); returns the completed process with text stdout and stderr."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    full["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    if data_dir is not None:
        full["APPLIANCE_DATA_DIR"] = str(data_dir)
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "appliance", *args],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
