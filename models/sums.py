"""Pin a trained model's committed artifacts in ``models/SHA256SUMS`` (build time only)."""

from __future__ import annotations

from pathlib import Path

SUMS = Path(__file__).resolve().parent / "SHA256SUMS"


def pin_artifacts(kind: str, name: str, version: str, files: dict[str, dict[str, object]]) -> None:
    """Replace ``kind``'s lines (``models/<kind>/<file>`` and its comment), keep the others."""
    names = {f"models/{kind}/{n}": str(info["sha256"]) for n, info in files.items()}
    kept = [
        line
        for line in SUMS.read_text().splitlines()
        if not any(line.endswith("  " + n) for n in names) and f"{kind} model" not in line
    ]
    kept.append(f"# {kind} model {name} {version} (trained here; models/{kind}/MODEL_CARD.md)")
    kept += [f"{digest}  {n}" for n, digest in names.items()]
    SUMS.write_text("\n".join(kept) + "\n")
