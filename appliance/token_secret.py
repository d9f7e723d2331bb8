"""The key that signs access tokens: a 0600 file in the data dir, not a database row.

Kept out of the database so that a copied database or backup (mailed to support, left on a
shared disk) cannot be used to sign admin tokens. Installs made before this lived in
``meta.token_secret``; :func:`ensure` moves it into the file once (so issued tokens stay
valid) and deletes the row. ``appliance admin rotate-secret`` writes a new key: every access
token signed before is refused, by a running server too within :data:`RELOAD_SECONDS`.
The ``token_secret`` setting, when set, overrides the file.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from pathlib import Path

from appliance.db.connection import Connection, transaction
from appliance.db.queries import meta
from appliance.file_modes import private_dir, write_private

RELOAD_SECONDS = 1.0
_LEGACY_KEY = "token_secret"


def secret_path(data_dir: Path) -> Path:
    return data_dir / "secrets" / "token_secret"


def _new_secret() -> bytes:
    return secrets.token_hex(32).encode("ascii")


def ensure(data_dir: Path, conn: Connection) -> Path:
    """Make sure the secret file exists: moved from an old install's database, or new."""
    path = secret_path(data_dir)
    legacy = meta.get(conn, _LEGACY_KEY)
    if not path.exists():
        private_dir(path.parent)
        write_private(path, legacy.encode("ascii") if legacy else _new_secret())
    if legacy is not None:
        with transaction(conn):
            meta.delete(conn, _LEGACY_KEY)
    return path


def rotate(data_dir: Path) -> Path:
    """Replace the secret; every access token signed with the old one stops working."""
    path = secret_path(data_dir)
    private_dir(path.parent)
    write_private(path, _new_secret())
    return path


class TokenSecret:
    """The current signing key, re-read when the file changes (a rotation while serving)."""

    def __init__(self, path: Path | None, fixed: bytes | None = None) -> None:
        if fixed is None and path is None:
            raise ValueError("a token secret needs a file or a fixed value")
        self._path = path
        self._fixed = fixed
        self._value = b""
        self._stamp: tuple[int, int] | None = None
        self._checked = float("-inf")
        if fixed is None:
            self._reload()

    def _reload(self) -> None:
        assert self._path is not None
        st = self._path.stat()
        stamp = (st.st_mtime_ns, st.st_ino)
        if stamp != self._stamp:
            value = self._path.read_bytes().strip()
            if not value:
                raise ValueError(f"the token secret file {self._path} is empty")
            self._value, self._stamp = value, stamp

    def current(self) -> bytes:
        if self._fixed is not None:
            return self._fixed
        now = time.monotonic()
        if now - self._checked >= RELOAD_SECONDS:
            self._checked = now
            # A missing or half-written file keeps the last good key; start-up is strict.
            with contextlib.suppress(OSError, ValueError):
                self._reload()
        return self._value
