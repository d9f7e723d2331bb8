"""The one Settings object.

Precedence, lowest to highest: field defaults < the TOML config file (``config/appliance.toml``,
``--config FILE`` or ``APPLIANCE_CONFIG``) < environment variables ``APPLIANCE_*`` < CLI flags
(passed to :func:`load_settings` as keyword overrides). The layers are read by
:mod:`appliance.settings_sources`, which refuses unknown names and explains invalid values.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from appliance.paths import default_config_file, default_data_dir, default_models_dir
from appliance.settings_sources import (
    DEFAULT,
    ConfigFileMissing,
    Layered,
    Source,
    explain,
    gather,
)

log = logging.getLogger("appliance.config")


class CreditPack(BaseModel):
    """A purchasable bundle of credits; the server's price list (events never set amounts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    credits: int = Field(ge=1, le=1_000_000_000)
    amount_cents: int = Field(ge=1, le=100_000_000)
    currency: str = Field("usd", pattern=r"^[a-z]{3}$")


def _default_packs() -> dict[str, CreditPack]:
    return {"credits_200": CreditPack(credits=200, amount_cents=1000, currency="usd")}


class Settings(BaseSettings):
    """Every knob of the appliance. Each field's description is its documentation."""

    # Only keyword arguments: load_settings() reads the file and the environment itself, so
    # it knows where each value came from and can refuse unknown names.
    model_config = SettingsConfigDict(env_prefix="APPLIANCE_", extra="forbid")
    _sources: dict[str, Source] = PrivateAttr(default_factory=dict)
    _config_file: Path | None = PrivateAttr(None)

    # --- server ---
    host: str = Field("127.0.0.1", description="Interface to bind; keep loopback unless proxied.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port of the REST API.")
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the SQLite file, inbox and secrets live (never the bundle); "
        "./data from a checkout, a per-user folder for the executable.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Least severe log level written (the server's and every command's)."
    )
    log_format: Literal["json", "text"] | None = Field(
        None,
        description="Log lines as JSON objects or as text; default: text when stderr is a "
        "terminal, JSON otherwise (a service manager, a file, a pipe).",
    )
    access_log: bool = Field(True, description="Write one log line per request.")
    unknown_settings: Literal["error", "warn"] = Field(
        "error",
        description="An unknown key in the config file or an unknown APPLIANCE_* variable "
        "(a typo) is an error; 'warn' only logs a warning.",
    )
    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="Largest request body accepted (bytes); larger ones get 413 "
        "payload_too_large before they are read into memory.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the API answers to besides loopback addresses, localhost and "
        "the bind address (a reverse proxy's or LAN name); other Host headers get 421 "
        "host_not_allowed (DNS rebinding). '*' allows any.",
    )
    shutdown_grace_seconds: int = Field(
        10,
        ge=0,
        le=600,
        description="On SIGTERM, how long requests in flight may finish; those cut then get "
        "a JSON 503 shutting_down (and a billable one is refunded at the next start).",
    )

    # --- database ---
    database_url: str | None = Field(
        None,
        description="PostgreSQL for several replicas: 'postgresql://user:password@host:port/db'"
        " (or '...?host=/socket/dir'). Unset: the SQLite file in data_dir.",
    )
    database_pool_size: int = Field(
        16,
        ge=2,
        le=256,
        description="PostgreSQL: most connections one replica opens (reads and writes).",
    )
    job_lease_seconds: float = Field(
        60.0,
        ge=1,
        le=3600,
        description="PostgreSQL: an indexing job whose replica stopped renewing it for this long"
        " is claimed again by another.",
    )
    replica_sweep_seconds: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="PostgreSQL: how often a replica refunds the unfinished charges and re-queues"
        " the jobs of replicas that died (one replica at a time).",
    )
    db_synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL", description="SQLite synchronous pragma; FULL survives power loss (money paths)."
    )
    db_busy_timeout_ms: int = Field(5000, ge=0, description="SQLite busy_timeout per connection.")
    db_readers: int = Field(4, ge=1, le=64, description="Reader threads (one connection each).")
    db_quick_check_seconds: float = Field(
        2.0,
        ge=0,
        description="Start-up PRAGMA quick_check budget: a damaged database is refused; a "
        "bigger one is checked only this long (`appliance db check --full` checks it whole); "
        "0 skips it.",
    )

    # --- auth ---
    admin_email: str = Field("admin@localhost", description="E-mail of the admin created by init.")
    token_ttl_seconds: int = Field(
        3600, ge=60, description="Lifetime of access tokens from POST /auth/token."
    )
    auth_cache_seconds: float = Field(
        2.0,
        ge=0,
        le=60,
        description="Cache API-key lookups this long (0: off); revocations in this process"
        " apply at once, from another process (the CLI) within this time.",
    )
    token_secret: SecretStr | None = Field(
        None, description="HMAC key for access tokens; generated into the data dir when unset."
    )
    login_max_failures: int = Field(
        5,
        ge=0,
        description="Failed logins (POST /auth/token) per account within login_window_seconds "
        "before it is locked for login_lockout_seconds (0: no limit).",
    )
    login_max_failures_per_address: int = Field(
        20,
        ge=0,
        description="Failed logins per client address within the window before that address "
        "is locked out (0: no limit; behind a reverse proxy every client shares its address).",
    )
    login_window_seconds: int = Field(
        900, ge=1, description="Window over which failed logins are counted."
    )
    login_lockout_seconds: int = Field(
        900, ge=1, description="How long a locked account or address must wait (429)."
    )
    max_api_keys_per_user: int = Field(
        20, ge=1, le=10_000, description="Most active (unrevoked) API keys a user may hold."
    )

    # --- models ---
    models_dir: Path = Field(
        default_factory=default_models_dir, description="Directory of the ONNX model artifacts."
    )
    load_models: bool = Field(True, description="Load the ONNX models at start-up.")
    passage_encoder: Literal["embedder", "distilled"] = Field(
        "embedder",
        description="Filings Q&A: what embeds passages when filings are indexed (questions are "
        "always embedded by all-MiniLM-L6-v2). `embedder`: MiniLM itself. `distilled`: the "
        "committed 3-layer passage encoder (models/passage-encoder), trained here to place "
        "passages where MiniLM places the questions they answer: it indexes about twice as fast "
        "and finds the evidence as often, but puts the right Item first less often (figures in "
        "its model card), so it is for sites whose corpus is large. Changing it re-indexes "
        "every filing (the index records which encoder wrote it).",
    )
    rerank_candidates: int = Field(
        8,
        ge=0,
        le=100,
        description="Filings Q&A: how many fused passages the reranker rereads (0: off).",
    )
    rerank_model: Literal["reader", "cross-encoder"] = Field(
        "reader",
        description="Filings Q&A: the reranking model. `reader`: all-mpnet-base-v2 (built by "
        "`make reader-model`; the indexer's worker stores each passage's vector in the "
        "background, then a question costs one encoding, about 30 ms on 2 cores; without the "
        "model, search keeps the fused order); `cross-encoder`: the committed 2-layer reranker "
        "(no better than the fused order on the blind questions).",
    )
    reader_dir: Path | None = Field(
        None,
        description="Filings Q&A: the directory of the reader's artifacts (`model.int8.onnx`, "
        "`tokenizer.json`, `manifest.json`); default `<models_dir>/all-mpnet-base-v2`. The "
        "executable leaves the reader out (113 MB): unpack a release's reader archive anywhere "
        "and point this at it.",
    )
    model_threads: int = Field(
        2, ge=1, le=64, description="onnxruntime intra-op threads per model (CPU cores to use)."
    )
    sentiment_max_batch: int = Field(
        32, ge=1, le=256, description="Most texts one micro-batched sentiment model call takes."
    )
    sentiment_batch_wait_ms: float = Field(
        3.0, ge=0, le=100, description="How long a sentiment request waits for batch mates."
    )

    # --- SEC EDGAR ---
    edgar_user_agent: str | None = Field(
        None,
        description="User-Agent sent to SEC EDGAR, 'Name contact@example.com'; SEC fair-access "
        "rules require a contact e-mail, and fetching is refused without it.",
    )
    edgar_www_url: str = Field(
        "https://www.sec.gov", description="Base URL for Archives documents and ticker files."
    )
    edgar_data_url: str = Field(
        "https://data.sec.gov", description="Base URL for submissions JSON."
    )
    edgar_max_rps: float = Field(
        10.0, gt=0, le=10, description="Requests per second to EDGAR, across the process."
    )
    edgar_timeout_seconds: float = Field(30.0, gt=0, description="Timeout of one EDGAR request.")
    edgar_max_retries: int = Field(
        4, ge=0, le=10, description="Retries (with backoff) on 429, 5xx and truncated bodies."
    )
    max_decompressed_bytes: int = Field(
        256 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest size a gzip/deflate file or EDGAR download may expand to; a "
        "bigger one fails (a few hundred KB can expand to gigabytes).",
    )
    edgar_sample_on_first_start: bool = Field(
        True,
        description="`serve` loads the bundled ticker map and Apple sample filings into an "
        "empty database, so a fresh install works offline.",
    )

    # --- billing (quota) ---
    billing_enabled: bool = Field(
        True, description="Meter billable endpoints; false serves them free (benchmarks, demos)."
    )
    cost_sentiment: int = Field(1, ge=0, description="Credits per text scored by sentiment.")
    cost_qa: int = Field(1, ge=0, description="Credits per filings Q&A query.")
    cost_facts: int = Field(
        1, ge=0, description="Credits per GET /v1/facts or GET /v1/financials/{ticker} call."
    )
    free_monthly_credits: int = Field(
        10, ge=0, description="Monthly allowance of the free plan, renewed on the 1st (UTC)."
    )
    rate_limit_per_second: float = Field(
        20.0, ge=0, description="Billable requests per second per API key; 0 turns it off."
    )
    rate_limit_burst: int = Field(
        40, ge=1, description="Token-bucket size: billable requests allowed in a burst."
    )
    echo_endpoint: bool = Field(
        False, description="Serve POST /v1/echo, a cheap billable endpoint to check metering."
    )
    cost_echo: int = Field(1, ge=0, description="Credits per POST /v1/echo call.")
    idempotency_ttl_hours: int = Field(
        24, ge=1, description="How long an Idempotency-Key's first response is kept for replay."
    )

    # --- payments (optional: Stripe is off unless a secret key is set) ---
    payment_provider: Literal["stripe", "disabled"] | None = Field(
        None, description="Payment provider; default: stripe when stripe_secret_key is set."
    )
    stripe_secret_key: SecretStr | None = Field(None, description="Stripe API secret key.")
    stripe_webhook_secret: SecretStr | None = Field(
        None, description="Signing secret (whsec_...) of the Stripe webhook endpoint."
    )
    stripe_api_base: str | None = Field(
        None, description="Stripe API base URL override (tests point it at a local fake)."
    )
    credit_packs: dict[str, CreditPack] = Field(
        default_factory=_default_packs,
        description="Packs sold through Checkout: name -> {credits, amount_cents, currency}.",
    )
    checkout_success_url: str = Field(
        "",
        description="Where Stripe sends the buyer after paying (the console's Credits page shows "
        "the result); default: this server's /?checkout=success&session_id={CHECKOUT_SESSION_ID}"
        " at its host and port.",
    )
    checkout_cancel_url: str = Field(
        "",
        description="Where Stripe sends the buyer who cancels; default: this server's "
        "/?checkout=cancelled at its host and port.",
    )
    license_public_keys: list[str] = Field(
        default_factory=list,
        description="Trusted license-signing keys, each 'kid:base64 Ed25519 public key'.",
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None
        url = url.strip()
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "database_url must be a PostgreSQL URL, postgresql://user@host:port/db"
                " (leave it unset for the SQLite file in data_dir)"
            )
        return url

    @field_validator("license_public_keys")
    @classmethod
    def _check_license_keys(cls, keys: list[str]) -> list[str]:
        for entry in keys:
            kid, sep, b64 = entry.partition(":")
            try:
                raw = base64.b64decode(b64.strip(), validate=True)
            except binascii.Error:
                raw = b""
            if not sep or not kid.strip() or len(raw) != 32:
                raise ValueError(
                    f"license public key must be 'kid:<base64 of 32 bytes>', got {entry!r}"
                )
        return keys

    @model_validator(mode="after")
    def _derive_urls(self) -> Settings:
        # Unset URLs follow host and port, so `serve --port 9000` gets links to port 9000.
        if not self.checkout_success_url:
            self.checkout_success_url = (
                f"{self.base_url}/?checkout=success&session_id={{CHECKOUT_SESSION_ID}}"
            )
        if not self.checkout_cancel_url:
            self.checkout_cancel_url = f"{self.base_url}/?checkout=cancelled"
        return self

    @property
    def base_url(self) -> str:
        """How a browser on this machine reaches the server (a wildcard bind -> loopback)."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        host = "[::1]" if host == "::" else host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def credit_costs(self) -> dict[str, int]:
        """Credits per billable unit by setting name (``cost_qa``: 1): what the API document
        quotes as this site's prices."""
        return {
            name: int(getattr(self, name))
            for name in type(self).model_fields
            if name.startswith("cost_")
        }

    def source_of(self, name: str) -> Source:
        """Where the effective value of setting ``name`` came from."""
        return self._sources.get(name, DEFAULT)

    @property
    def config_file(self) -> Path | None:
        return self._config_file

    @property
    def effective_payment_provider(self) -> Literal["stripe", "disabled"]:
        if self.payment_provider is not None:
            return self.payment_provider
        return "stripe" if self.stripe_secret_key else "disabled"

    # --- retrieval ---
    index_on_start: bool = Field(
        True,
        description="At start-up, queue indexing of imported filings not yet indexed (the "
        "bundled sample on a first start).",
    )
    index_paused: bool = Field(
        False,
        description="Hold the background indexer: jobs wait in the queue (and questions about "
        "the companies they cover answer 503 index_building) until a start without it.",
    )
    index_new_imports: bool = Field(
        True,
        description="While serving, index filings imported by other processes (`appliance "
        "filings import|fetch` beside the server) without a separate command.",
    )
    qa_min_confidence: float = Field(
        0.35,
        ge=0,
        le=1,
        description="Filings Q&A: an answer whose confidence (0..1, how sure the service is "
        "that the top citation answers) is below this is refused as `no_answer`, free. 0 "
        "answers whenever anything is cited.",
    )

    # --- web console and browsers ---
    console_enabled: bool = Field(
        True, description="Serve the web console at / (the API docs at /docs are always served)."
    )
    session_ttl_hours: float = Field(
        12.0,
        gt=0,
        le=24 * 30,
        description="Lifetime of a console sign-in (an HttpOnly, SameSite=Strict cookie).",
    )
    cors_allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) whose pages may call the API from a "
        "browser with an API key (CORS). Empty: none, the default. Cookies never cross origins.",
    )

    @field_validator("cors_allowed_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            scheme, sep, rest = origin.partition("://")
            if origin == "*" or scheme not in ("http", "https") or not sep or not rest:
                raise ValueError(
                    f"CORS origin must be 'http(s)://host[:port]' (no wildcard), got {origin!r}"
                )
            if "/" in rest:
                raise ValueError(f"CORS origin has no path, got {origin!r}")
        return origins

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
        return (init_settings,)


def resolve_config_file(config_file: Path | None) -> Path | None:
    """The config file to read: explicit, else APPLIANCE_CONFIG, else the bundled default."""
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigFileMissing(f"config file not found: {config_file} (--config)")
        return config_file
    env = os.environ.get("APPLIANCE_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigFileMissing(f"APPLIANCE_CONFIG points to a missing file: {path}")
        return path
    default = default_config_file()
    return default if default.is_file() else None


def mask_url_password(url: str) -> str:
    """The URL with its password (if any) replaced by stars, for logs and `config show`."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in creds:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:********@{host}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the effective settings; ``overrides`` are CLI flags (None values are ignored).

    Raises :class:`~appliance.settings_sources.ConfigError` (a ``ValueError``) naming the
    setting, its source and the problem, for unknown names and invalid values.
    """
    path = resolve_config_file(config_file)
    layered = gather(Settings.model_fields, path, overrides)
    try:
        settings = Settings(**layered.values)
    except ValidationError as exc:
        raise explain(exc, layered, Settings.model_fields) from None
    _remember(settings, layered)
    for warning in layered.warnings:
        log.warning("%s", warning)
    return settings


def _remember(settings: Settings, layered: Layered) -> None:
    sources = dict(layered.sources)
    for name in ("checkout_success_url", "checkout_cancel_url"):
        if name not in sources:
            sources[name] = Source("derived", "host and port")
    settings._sources = sources
    settings._config_file = layered.config_file


def masked(settings: Settings) -> dict[str, Any]:
    """Effective settings as JSON-able values, secrets masked (for `config show`)."""
    out: dict[str, Any] = {}
    for name, value in settings.model_dump(mode="json").items():
        field_value = getattr(settings, name)
        if isinstance(field_value, SecretStr):
            out[name] = "********"
        elif name == "database_url" and isinstance(field_value, str):
            out[name] = mask_url_password(field_value)
        elif isinstance(field_value, list) and any(isinstance(v, SecretStr) for v in field_value):
            out[name] = ["********" for _ in field_value]
        else:
            out[name] = value
    return out
