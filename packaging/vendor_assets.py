#!/usr/bin/env python3
"""Vendor the web console's third-party assets from the npm registry (run by hand:
``make vendor``; the result is committed, so serving and building never touch a network).

Each package is fetched with the ordinary client (``npm pack NAME@VERSION``), its tarball
checked against the sha256 pinned here, and only the files the appliance serves are copied to
``appliance/web/static/vendor/<name>/``, byte for byte. ``VENDORED.json`` records name,
version, licence, the tarball's sha256 and npm integrity, and each file's sha256 and size;
``tests/test_web_assets.py`` checks the committed files against it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "appliance" / "web" / "static" / "vendor"

PACKAGES = [
    {
        "name": "swagger-ui-dist",
        "version": "5.35.0",
        "license": "Apache-2.0",
        "tarball_sha256": "1b8e891893404ea4c3558b6a87e2a3e494e7eedba41168c2ece5800a391a6ea6",
        "files": [
            "swagger-ui-bundle.js",
            "swagger-ui.css",
            "LICENSE",
            "NOTICE",
            "swagger-ui-bundle.js.LICENSE.txt",
        ],
    },
]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def vendor(pkg: dict[str, object], work: Path) -> dict[str, object]:
    spec = f"{pkg['name']}@{pkg['version']}"
    out = subprocess.run(
        ["npm", "pack", spec, "--json", "--pack-destination", str(work)],
        check=True,
        capture_output=True,
        text=True,
    )
    info = json.loads(out.stdout)[0]
    tarball = work / info["filename"]
    digest = sha256(tarball.read_bytes())
    if digest != pkg["tarball_sha256"]:
        sys.exit(f"{spec}: tarball sha256 {digest}, expected {pkg['tarball_sha256']}")
    dest = VENDOR / str(pkg["name"])
    dest.mkdir(parents=True, exist_ok=True)
    files = {}
    with tarfile.open(tarball) as tar:
        for name in pkg["files"]:  # type: ignore[attr-defined]
            member = tar.extractfile(f"package/{name}")
            assert member is not None, name
            data = member.read()
            (dest / name).write_bytes(data)
            files[name] = {"sha256": sha256(data), "bytes": len(data)}
    return {
        "name": pkg["name"],
        "version": pkg["version"],
        "license": pkg["license"],
        "registry": "npm",
        "tarball_sha256": digest,
        "integrity": info["integrity"],
        "files": files,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        manifest = [vendor(pkg, Path(tmp)) for pkg in PACKAGES]
    (VENDOR / "VENDORED.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(f["bytes"] for m in manifest for f in m["files"].values())  # type: ignore[attr-defined]
    print(f"vendored {len(manifest)} package(s), {total:,} bytes")


if __name__ == "__main__":
    main()
