"""The one Settings object.

Precedence, lowest to highest: field defaults < the TOML config file (``config/appliance.toml``,
``--config FILE`` or ``APPLIANCE_CONFIG``) < environment variables ``APPLIANCE_*`` < CLI flags
(passed to :func:`load_settings` as keyword overrides).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from appliance.paths import default_config_file, default_data_dir, default_models_dir


class Settings(BaseSettings):
    """Every knob of the appliance. Each field's description is its documentation."""

    model_config = SettingsConfigDict(env_prefix="APPLIANCE_", extra="ignore")

    # --- server ---
    host: str = Field("127.0.0.1", description="Interface to bind; keep loopback unless proxied.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port of the REST API.")
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the SQLite file, inbox and secrets live (never the bundle); "
        "./data from a checkout, a per-user folder for the executable.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level of the structured JSON logs."
    )
    access_log: bool = Field(True, description="Emit one JSON access-log line per request.")

    # --- database ---
    db_synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL", description="SQLite synchronous pragma; FULL survives power loss (money paths)."
    )
    db_busy_timeout_ms: int = Field(5000, ge=0, description="SQLite busy_timeout per connection.")
    db_readers: int = Field(4, ge=1, le=64, description="Reader threads (one connection each).")

    # --- auth ---
    admin_email: str = Field("admin@localhost", description="E-mail of the admin created by init.")
    token_ttl_seconds: int = Field(
        3600, ge=60, description="Lifetime of access tokens from POST /auth/token."
    )
    token_secret: SecretStr | None = Field(
        None, description="HMAC key for access tokens; generated into the data dir when unset."
    )

    # --- models ---
    models_dir: Path = Field(
        default_factory=default_models_dir, description="Directory of the ONNX model artifacts."
    )
    load_models: bool = Field(True, description="Load the ONNX models at start-up.")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "appliance.sqlite3"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def resolve_config_file(config_file: Path | None) -> Path | None:
    """The config file to read: explicit, else APPLIANCE_CONFIG, else the bundled default."""
    if config_file is not None:
        if not config_file.is_file():
            raise FileNotFoundError(f"config file not found: {config_file}")
        return config_file
    env = os.environ.get("APPLIANCE_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise FileNotFoundError(f"APPLIANCE_CONFIG points to a missing file: {path}")
        return path
    default = default_config_file()
    return default if default.is_file() else None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the effective settings; ``overrides`` are CLI flags (None values are ignored)."""
    path = resolve_config_file(config_file)

    class _FromFile(Settings):
        model_config = SettingsConfigDict(toml_file=path)

    flags = {k: v for k, v in overrides.items() if v is not None}
    return _FromFile(**flags)


def masked(settings: Settings) -> dict[str, Any]:
    """Effective settings as JSON-able values, secrets masked (for `config show`)."""
    out: dict[str, Any] = {}
    for name, value in settings.model_dump(mode="json").items():
        field_value = getattr(settings, name)
        if isinstance(field_value, SecretStr):
            out[name] = "********"
        elif isinstance(field_value, list) and any(isinstance(v, SecretStr) for v in field_value):
            out[name] = ["********" for _ in field_value]
        else:
            out[name] = value
    return out
