"""Start the real appliance (`python -m appliance serve`) on a free loopback port.

The admin key comes from `appliance init --json` run first (one JSON object on stdout), not
from the server's log; the server's stdout and stderr go to a file, so nothing ever blocks on
a pipe nobody reads, and the log is there to read when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(data_dir: Path, port: int | None = None, **env_extra: str) -> dict[str, str]:
    """The environment of an appliance process: ours without any APPLIANCE_* variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env["APPLIANCE_DATA_DIR"] = str(data_dir)
    if port is not None:
        env["APPLIANCE_PORT"] = str(port)
    env.setdefault("APPLIANCE_ACCESS_LOG", "false")
    env.update(env_extra)
    return env


def init_data_dir(data_dir: Path, **env_extra: str) -> dict[str, Any]:
    """`appliance init --json` on ``data_dir``: its JSON (``admin_api_key`` is set only when
    this call created the admin)."""
    done = subprocess.run(
        [sys.executable, "-m", "appliance", "init", "--json"],
        env=server_env(data_dir, **env_extra),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@dataclass
class LiveServer:
    base: str
    admin_key: str
    proc: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, Any, dict[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if key:
            hdrs["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None, dict(r.headers)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None, dict(exc.headers)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def spawn(
    data_dir: Path,
    port: int,
    log_path: Path,
    preexec_fn: Callable[[], None] | None = None,
    **env_extra: str,
) -> subprocess.Popen[bytes]:
    """`appliance serve` in the background, its output appended to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "appliance", "serve"],
            env=server_env(data_dir, port, **env_extra),
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn,
        )


def ready(base: str, path: str = "/readyz") -> bool:
    try:
        with urllib.request.urlopen(f"{base}{path}", timeout=2) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def wait_ready(
    proc: subprocess.Popen[bytes],
    base: str,
    log_path: Path,
    timeout: float,
    path: str = "/readyz",
) -> None:
    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(
                f"server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}"
            )
        return ready(base, path)

    wait_until(up, timeout=timeout, interval=0.1, message=f"server never answered {path}")


def stop(proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def live_server(
    data_dir: Path,
    timeout: float = 120,
    *,
    admin_key: str | None = None,
    port: int | None = None,
    ready_path: str = "/readyz",
    preexec_fn: Callable[[], None] | None = None,
    log_dir: Path | None = None,
    **env_extra: str,
) -> Iterator[LiveServer]:
    """A server on ``data_dir``, answering 200 at ``ready_path``; stopped with SIGTERM on
    exit. On a data dir that is already initialised, pass its ``admin_key``; ``port``: when
    the test must know it first (default: a free one). Its output goes to a file in
    ``log_dir`` (default: beside the data dir)."""
    if admin_key is None:
        admin_key = init_data_dir(data_dir, **env_extra)["admin_api_key"]
        assert admin_key, f"{data_dir} has an admin already: pass admin_key"
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = (log_dir or data_dir.parent) / f"serve-{data_dir.name}-{port}.log"
    proc = spawn(data_dir, port, log_path, preexec_fn, **env_extra)
    try:
        wait_ready(proc, base, log_path, timeout, ready_path)
        yield LiveServer(base, admin_key, proc, data_dir, log_path)
    finally:
        stop(proc)


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
