"""When the disk under the data dir cannot take a write: full, over a file-size limit, or
mounted read-only.

A write that fails for lack of space is not a bug of the request: it is answered 503
``storage_full`` (the connection stays open, nothing was charged: the transaction rolled
back), ``/readyz`` reports the database as not ready until a write succeeds again, and start-up
says so in one line instead of a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from appliance.errors import ApplianceError

# SQLite's primary result codes: the disk is full (ENOSPC), or a write failed (EFBIG when a
# file-size limit is reached, EIO when the medium fails): either way no write can land.
SQLITE_IOERR = 10
SQLITE_FULL = 13
_OS_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


class StorageFull(ApplianceError):
    status = 503
    code = "storage_full"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Retry-After": "30"})


class DataDirReadOnly(ApplianceError):
    status = 503
    code = "data_dir_read_only"


def is_storage_error(exc: BaseException) -> bool:
    """Whether ``exc`` (from SQLite or the OS) means the disk took no more data."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (SQLITE_FULL, SQLITE_IOERR)
    return isinstance(exc, OSError) and exc.errno in _OS_ERRNOS


def free_bytes(path: Path) -> int | None:
    with contextlib.suppress(OSError):
        return shutil.disk_usage(path).free
    return None


def storage_full(data_dir: Path, exc: BaseException | None = None) -> StorageFull:
    free = free_bytes(data_dir)
    room = f"{free:,} bytes free" if free is not None else "free space unknown"
    cause = f": {exc}" if exc is not None else ""
    return StorageFull(
        f"the disk holding the data dir {data_dir} is full or refuses writes ({room}{cause});"
        " free some space: nothing was charged, retry then"
    )


@contextlib.contextmanager
def reported(data_dir: Path) -> Iterator[None]:
    """Turn a full disk met inside the block into :class:`StorageFull` (one clear line for
    the CLI and ``serve``, not a traceback)."""
    try:
        yield
    except StorageFull:
        raise
    except Exception as exc:
        if is_storage_error(exc):
            raise storage_full(data_dir, exc) from exc
        raise


def read_only(data_dir: Path) -> bool:
    """The data dir exists but this process cannot write in it (a read-only mount, or
    permissions). ``access`` answers EROFS for a read-only file system, also to root."""
    return data_dir.is_dir() and not os.access(data_dir, os.W_OK)


def refuse_read_only(data_dir: Path, what: str) -> None:
    if read_only(data_dir):
        raise DataDirReadOnly(
            f"data dir is read-only: {data_dir}; {what} needs to write there (credits, usage,"
            " jobs). `appliance backup --out FILE` and the list commands still work on it"
        )
