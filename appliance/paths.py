"""Where bundled resources live, from a source checkout or inside a PyInstaller bundle."""

from __future__ import annotations

import os
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


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def is_checkout() -> bool:
    """Running from a source checkout (``make run``), not a bundle or a pip install."""
    return not is_frozen() and (bundle_root() / "pyproject.toml").is_file()


def default_data_dir() -> Path:
    """``./data`` from a checkout (the README's ``make run``); a per-user folder otherwise
    (the executable, a pip install from the release wheelhouse), so an installed appliance
    never writes into its own bundle or wherever the command happens to run."""
    if is_checkout():
        return Path("data")
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "appliance"


def package_dir() -> Path:
    return Path(__file__).resolve().parent


def resources_dir() -> Path:
    return package_dir() / "resources"


def default_config_file() -> Path:
    return bundle_root() / "config" / "appliance.toml"


def default_models_dir() -> Path:
    """``models/`` beside the package (a checkout, the executable's bundle), else the models
    a release's source distribution carries inside the package (a pip install)."""
    beside = bundle_root() / "models"
    packaged = resources_dir() / "models"
    return packaged if not beside.is_dir() and packaged.is_dir() else beside


def web_static_dir() -> Path:
    """The console's and the API docs' files (HTML, CSS, JS, vendored assets)."""
    return package_dir() / "web" / "static"


def migrations_dir() -> Path:
    return package_dir() / "db" / "migrations"
