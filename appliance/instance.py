"""One serving process per data dir.

Two servers on one SQLite file would each run the start-up recovery (refunding charges whose
requests never finished), and so refund the other's in-flight requests. An exclusive lock on
``<data_dir>/serve.lock`` (held for the life of the server, released by the OS if the process
dies) makes a second server refuse to start. CLI commands do not take it: they are short
writers that SQLite serialises safely.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from appliance.errors import ApplianceError
from appliance.file_modes import open_private, private_dir


class AlreadyRunning(ApplianceError):
    status = 409
    code = "already_running"


class InstanceLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "serve.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Raises AlreadyRunning when another live server holds the data dir."""
        private_dir(self.path.parent)
        # Held open until release (the lock lives as long as the file handle).
        handle = open(open_private(self.path, os.O_RDWR), "r+", encoding="utf-8")  # noqa: SIM115
        try:
            _lock(handle)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise AlreadyRunning(
                f"another appliance server (pid {holder}) is serving {self.path.parent}; "
                "stop it or choose another data dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file releases the lock
            self._file = None


def _lock(handle: IO[str]) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: lock the first byte instead
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
