"""Check model checksums: committed artifacts against models/SHA256SUMS, built ones against
their manifest. Exit status 1 on any mismatch. Usage: python models/verify.py"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main() -> int:
    bad = 0
    for line in (REPO / "models" / "SHA256SUMS").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        digest, name = line.split(maxsplit=1)
        if ":" in name:
            continue  # a file inside the source wheel: checked by build_embedder.py
        path = REPO / name
        if not path.exists():
            if not name.startswith("models/cache/"):  # the download cache may be absent
                print(f"MISSING {name}")
                bad += 1
            continue
        ok = sha256(path) == digest
        bad += not ok
        print(f"{'ok' if ok else 'MISMATCH'} {name}")
    for manifest in sorted((REPO / "models").glob("*/manifest.json")):
        files = json.loads(manifest.read_text())["files"]
        for name, info in files.items():
            path = manifest.parent / name
            ok = path.exists() and sha256(path) == info["sha256"]
            bad += not ok
            print(f"{'ok' if ok else 'MISMATCH'} {path.relative_to(REPO)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
