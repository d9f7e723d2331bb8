"""Hostile storage for tests: a small file system that fills up, a read-only view of a
directory. Real mounts where the machine allows them (root, as in CI), else the closest
stand-in: a file-size limit (RLIMIT_FSIZE) for a full disk, permissions for read-only."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path


def _mount(*args: str) -> bool:
    if shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", *args], capture_output=True, timeout=30)
    return done.returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


@contextlib.contextmanager
def small_disk(path: Path, megabytes: int) -> Iterator[bool]:
    """A tmpfs of ``megabytes`` at ``path``; yields True when mounted (False: not allowed
    here, and ``path`` is a plain directory)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and _mount(
        "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)
    )
    try:
        yield mounted
    finally:
        if mounted:
            _umount(path)


def fill(directory: Path, chunk: int = 1 << 16) -> Path:
    """Write a file in ``directory`` until the disk refuses another byte."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (chunk, 4096, 1):
            block = b"\0" * size
            with contextlib.suppress(OSError):
                while os.write(fd, block):
                    pass
    finally:
        os.close(fd)
    return filler


@contextlib.contextmanager
def read_only_view(source: Path, view: Path) -> Iterator[Path]:
    """``source`` seen read-only at ``view``: a read-only bind mount, or (not root) a copy
    whose modes forbid writing."""
    view.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0 and _mount("--bind", str(source), str(view)):
        try:
            if not _mount("-o", "remount,bind,ro", str(view)):
                raise RuntimeError("could not remount the bind mount read-only")
            yield view
        finally:
            _umount(view)
        return
    shutil.rmtree(view)
    shutil.copytree(source, view)
    for p in [view, *view.rglob("*")]:
        os.chmod(p, 0o500 if p.is_dir() else 0o400)
    try:
        yield view
    finally:
        for p in [view, *view.rglob("*")]:
            os.chmod(p, 0o700 if p.is_dir() else 0o600)
