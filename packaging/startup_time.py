"""Median time from launch to /readyz for a built executable (first start and restart).

    python packaging/startup_time.py EXECUTABLE [--runs 5]

Each run uses a fresh data dir (first start: init, migrations, sample import, model load);
the restart run reuses it. Prints medians; builds nothing.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_to_ready(exe: str, data_dir: Path, timeout: float = 120) -> float:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env.update(APPLIANCE_DATA_DIR=str(data_dir), APPLIANCE_PORT=str(port))
    env["APPLIANCE_ACCESS_LOG"] = "false"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [exe, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while time.perf_counter() - started < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.02)
        raise TimeoutError(f"{exe} not ready in {timeout} s")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("executable")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    first, again = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            first.append(time_to_ready(args.executable, Path(tmp) / "data"))
            again.append(time_to_ready(args.executable, Path(tmp) / "data"))
    print(
        f"{args.executable}: first start to /readyz median {statistics.median(first):.2f} s "
        f"(runs {', '.join(f'{t:.2f}' for t in first)}); restart median "
        f"{statistics.median(again):.2f} s"
    )


if __name__ == "__main__":
    main()
