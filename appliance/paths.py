"""Where bundled resources live, from a source checkout or inside a PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def bundle_root() -> Path:
    """The directory holding `appliance/`, `models/` and `config/`.

    When frozen by PyInstaller, data files are unpacked under ``sys._MEIPASS``; from a
    checkout, the repository root (the parent of the package).
    """
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    return Path(__file__).resolve().parent.parent


def package_dir() -> Path:
    return Path(__file__).resolve().parent


def resources_dir() -> Path:
    return package_dir() / "resources"


def default_config_file() -> Path:
    return bundle_root() / "config" / "appliance.toml"


def default_models_dir() -> Path:
    return bundle_root() / "models"


def migrations_dir() -> Path:
    return package_dir() / "db" / "migrations"
