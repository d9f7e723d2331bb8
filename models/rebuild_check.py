"""Did a retrain reproduce the committed model? Bytes first, then the dev figures.

Training is deterministic on one machine (fixed seed, one thread), but float kernels differ
between CPU instruction sets and library builds: a rebuild elsewhere moves the trained
weights by a few ulps, which flips some 8-bit roundings, so the artifact's bytes differ and
its int8 figures move by a few tenths of a point. The report says which case a rebuild is,
and fails only when a figure moved more than ``TOLERANCE`` (a different model, not noise).
"""

from __future__ import annotations

import platform
from importlib import metadata

# Measured: a rebuild of 2.1.0 on another machine moved int8 tweets dev accuracy by 0.0007
# and formal dev by 0.0024, with the torch (fp32) figures unchanged.
TOLERANCE = 0.01

# (label, path into the manifest) of each figure compared.
FIGURES = (
    ("tweets dev accuracy (torch)", ("dev_selection", "tweets", "accuracy")),
    ("formal dev accuracy (torch)", ("dev_selection", "formal", "accuracy")),
    ("fitted temperature", ("fitted_temperature",)),
    ("tweets dev accuracy (int8)", ("figures", "tweets", "int8", "accuracy")),
    ("formal dev accuracy (int8)", ("figures", "formal", "int8", "accuracy")),
)


def build_env() -> dict[str, str]:
    """What the artifact's bytes depend on besides the recipe and data."""
    import torch

    env = {
        "machine": platform.machine(),
        "torch_cpu_capability": str(torch.backends.cpu.get_cpu_capability()),
    }
    for dist in ("torch", "onnxruntime", "onnx", "numpy"):
        env[dist] = metadata.version(dist)
    return env


def _get(manifest: dict[str, object], path: tuple[str, ...]) -> float | None:
    node: object = manifest
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return float(node) if isinstance(node, int | float) else None


def same_recipe(committed: dict[str, object], rebuilt: dict[str, object]) -> bool:
    """Same recipe name and settings; fields added to the recipe since are left out."""
    old, new = committed.get("recipe"), rebuilt.get("recipe")
    if not isinstance(old, dict) or not isinstance(new, dict):
        return False
    return all(new.get(k) == v for k, v in old.items())


def compare(committed: dict[str, object], rebuilt: dict[str, object]) -> tuple[list[str], bool]:
    """Report lines and whether the rebuild reproduces the committed model.

    Identical artifact bytes reproduce; otherwise every figure both manifests hold must be
    within ``TOLERANCE``, and the recipe must be the same one.
    """
    lines: list[str] = []
    if not same_recipe(committed, rebuilt):
        return ["not a rebuild: the committed model has another recipe"], False
    old_files = committed.get("files", {})
    new_files = rebuilt.get("files", {})
    assert isinstance(old_files, dict) and isinstance(new_files, dict)
    same = {
        name: old_files.get(name, {}).get("sha256") == info.get("sha256")
        for name, info in new_files.items()
    }
    for name, ok in same.items():
        lines.append(f"{name}: {'identical bytes' if ok else 'bytes differ'}")
    if all(same.values()):
        return lines, True
    ok = True
    for label, path in FIGURES:
        old, new = _get(committed, path), _get(rebuilt, path)
        if old is None or new is None:
            continue
        moved = abs(new - old)
        ok &= moved <= TOLERANCE
        lines.append(f"{label}: committed {old:.4f}, rebuilt {new:.4f} (moved {moved:.4f})")
    env_old, env_new = committed.get("build_env"), rebuilt.get("build_env")
    if env_old != env_new:
        lines.append(f"build environment: committed {env_old or 'not recorded'}, now {env_new}")
    lines.append(
        f"figures within {TOLERANCE}: the same model up to float rounding"
        if ok
        else f"a figure moved more than {TOLERANCE}: not a reproduction"
    )
    return lines, ok
