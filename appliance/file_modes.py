"""Who may read the data dir: its owner, and nobody else.

The database holds password hashes, API-key hashes, the ledger and (in installs made before
this module) the token-signing secret; backups are copies of it. Any local account that can
read one of those files can sign an admin access token or copy the ledger. So the data dir is
0700 and every database, WAL, shared-memory, backup, lock and key file in it is 0600, whatever
the process umask, and the modes of an existing install are repaired at start.

The directory mode is what actually keeps other users out (they cannot traverse it); the file
modes keep a file private when someone copies it elsewhere (a backup on a shared disk).
SQLite creates ``-wal`` and ``-shm`` with the mode of the database file, so a 0600 database
gives 0600 companions.

On Windows, POSIX modes do not exist (``os.chmod`` only toggles read-only) and a per-user
folder under ``%LOCALAPPDATA%`` is private by its ACL; the checks here are POSIX-only.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from appliance.errors import ApplianceError

log = logging.getLogger("appliance.files")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OTHERS = stat.S_IRWXG | stat.S_IRWXO
# Files under the data dir that are secrets or copies of the database (matched by name).
_PRIVATE_SUFFIXES = (
    ".sqlite3",
    ".sqlite3-wal",
    ".sqlite3-shm",
    ".sqlite3-journal",
    ".partial",
    ".pem",
    ".key",
)
_PRIVATE_NAMES = frozenset({"serve.lock", "token_secret"})
_PRIVATE_DIRS = ("backups", "secrets")


class DataDirInsecure(ApplianceError):
    """The data dir is open to other users and its modes cannot be repaired."""

    status = 500
    code = "data_dir_insecure"


def enforced() -> bool:
    return os.name == "posix"


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with mode 0700 whatever the umask; an existing
    directory keeps its mode (:func:`secure_data_dir` checks the data dir itself)."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        if enforced():
            os.chmod(path, PRIVATE_DIR)  # mkdir's mode is masked by the umask
    return path


def create_private_file(path: Path) -> bool:
    """Create an empty ``path`` with mode 0600 if it does not exist; True when created.

    Used before SQLite first opens a database file, so the file never exists with a wider
    mode (SQLite would create it 0644 under the usual umask).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    os.close(fd)
    if enforced():
        os.chmod(path, PRIVATE_FILE)
    return True


def open_private(path: Path, flags: int) -> int:
    """``os.open`` that creates ``path`` 0600 (and tightens an existing file to 0600)."""
    fd = os.open(path, flags | os.O_CREAT, PRIVATE_FILE)
    if enforced():
        os.fchmod(fd, PRIVATE_FILE)
    return fd


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with ``data``, mode 0600 from the first byte."""
    tmp = path.with_name(path.name + ".partial")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as fh:
        if enforced():
            os.fchmod(fh.fileno(), PRIVATE_FILE)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def _is_private_file(path: Path) -> bool:
    return path.name in _PRIVATE_NAMES or path.name.endswith(_PRIVATE_SUFFIXES)


def _tighten(path: Path, mode: int, repaired: list[str]) -> None:
    # Another process may remove a -wal/-shm file (its last connection closing) between the
    # directory listing and here: a file that is gone needs no tightening.
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~mode:  # only ever removes bits: a stricter mode is left alone
            os.chmod(path, mode)
            repaired.append(f"{path} {current:04o}->{mode:04o}")
    except FileNotFoundError:
        return


def secure_data_dir(data_dir: Path) -> list[str]:
    """Create the data dir 0700, or repair an existing install's modes; returns what changed.

    Repairs the data dir and its ``backups``/``secrets`` folders to 0700 and every database,
    WAL, backup, lock and key file to 0600, logging once what it changed. Raises
    :class:`DataDirInsecure` (with what to do) when the data dir stays readable or writable
    by others: it belongs to another user, or the file system ignores modes.
    """
    private_dir(data_dir)
    if not enforced():
        return []
    repaired: list[str] = []
    try:
        _tighten(data_dir, PRIVATE_DIR, repaired)
        for name in _PRIVATE_DIRS:
            folder = data_dir / name
            if folder.is_dir():
                _tighten(folder, PRIVATE_DIR, repaired)
        for folder in (data_dir, *(data_dir / n for n in _PRIVATE_DIRS)):
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if entry.is_file() and not entry.is_symlink() and _is_private_file(entry):
                    _tighten(entry, PRIVATE_FILE, repaired)
    except PermissionError as exc:
        raise _insecure(data_dir, f"cannot change the mode of {exc.filename}") from None
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    if mode & _OTHERS:
        raise _insecure(data_dir, f"it is still mode {mode:04o} after chmod")
    if repaired:
        log.warning(
            "repaired file modes so only the owner can read the data dir: %s",
            "; ".join(repaired),
        )
    return repaired


def _insecure(data_dir: Path, why: str) -> DataDirInsecure:
    return DataDirInsecure(
        f"refusing to use data dir {data_dir}: other users can read or write it and {why}. "
        f"It holds the credentials database: as its owner run 'chmod 700 {data_dir}' (or "
        "choose another --data-dir / APPLIANCE_DATA_DIR on a file system with POSIX modes)."
    )
