"""Where each setting comes from, and refusing the mistakes people make when setting them.

The layers, lowest first: field defaults < the TOML config file < ``APPLIANCE_*`` environment
variables < command-line flags. Each value remembers its layer (``appliance config show``
prints it; the data-dir error names it). An unknown key in the file or an unknown
``APPLIANCE_*`` variable is an error with a "did you mean" (``unknown_settings = "warn"``
makes it a warning), and an invalid value is one line naming the field, where it came from
and what is wrong: never a traceback.

List settings accept what people paste: a JSON list, comma- or newline-separated items, or
the whole ``name = [...]`` line that ``appliance license keygen`` prints.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo

from appliance.errors import ApplianceError

log = logging.getLogger("appliance.config")

ENV_PREFIX = "APPLIANCE_"
# APPLIANCE_* variables that are not settings: the config file itself, one the benchmarks read
# and those the test suite reads (CI exports the browser and PostgreSQL ones), so exporting them
# for `make bench` or `make test` does not break every command.
NOT_SETTINGS = frozenset(
    {
        "APPLIANCE_CONFIG",
        "APPLIANCE_SHARED_EDGAR",
        "APPLIANCE_BROWSER_REQUIRED",
        "APPLIANCE_CHROMIUM",
        "APPLIANCE_TEST_POSTGRES",
    }
)
UNKNOWN_POLICY_FIELD = "unknown_settings"

SourceKind = Literal["default", "file", "env", "flag", "derived"]


class ConfigError(ApplianceError, ValueError):
    """A configuration mistake; the CLI prints the message (one line per problem), exit 2."""

    status = 400
    code = "invalid_configuration"


class ConfigFileMissing(ConfigError, FileNotFoundError):
    pass


@dataclass(frozen=True)
class Source:
    """Where one effective value came from."""

    kind: SourceKind
    where: str = ""  # the file, the variable, the flag, or what it was derived from

    def __str__(self) -> str:
        return {
            "default": "default",
            "file": f"config file {self.where}",
            "env": f"environment {self.where}",
            "flag": f"flag {self.where}",
            "derived": f"derived from {self.where}",
        }[self.kind]


DEFAULT = Source("default")


@dataclass
class Layered:
    """The raw values of every layer, merged by precedence, each with its source."""

    values: dict[str, Any]
    sources: dict[str, Source]
    config_file: Path | None
    warnings: list[str]


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None


def _suggest(name: str, known: list[str], spell: Any = str) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean {spell(close[0])}?" if close else ""


def _env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def _is_list(info: FieldInfo) -> bool:
    return typing.get_origin(info.annotation) is list


def _is_structured(info: FieldInfo) -> bool:
    origin = typing.get_origin(info.annotation)
    return origin is dict or (
        isinstance(info.annotation, type) and hasattr(info.annotation, "model_fields")
    )


def _is_optional(info: FieldInfo) -> bool:
    return type(None) in typing.get_args(info.annotation)


_ASSIGNMENT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$", re.DOTALL)


def parse_list(raw: str, field: str) -> list[str]:
    """A list setting from text: JSON, ``field = [...]`` (a pasted TOML line), or items
    separated by commas or newlines. Items are stripped; empty ones dropped."""
    text = raw.strip()
    assigned = _ASSIGNMENT.match(text)
    if assigned and assigned.group(1) == field:
        text = assigned.group(2).strip()
    if text.startswith("["):
        try:
            parsed = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                raise ValueError("starts with '[' but is not a JSON or TOML list") from None
        if not isinstance(parsed, list):
            raise ValueError("not a list")
        return [str(item).strip() for item in parsed if str(item).strip()]
    items = re.split(r"[,\n]", text)
    return [item.strip().strip("\"'").strip() for item in items if item.strip().strip("\"'")]


def _structured(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        pass
    try:
        return tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        raise ValueError("not valid JSON (nor a TOML inline table)") from None


def _from_text(raw: str, name: str, info: FieldInfo) -> Any:
    """An environment variable's text as the field's input (scalars stay text: pydantic
    converts them and says precisely what is wrong)."""
    if _is_list(info):
        return parse_list(raw, name)
    if _is_structured(info):
        return _structured(raw)
    if raw.strip() == "" and _is_optional(info):
        return None
    return raw


def _unknown(name: str, hint: str, where: str, policy: str, warnings: list[str]) -> None:
    message = f"unknown setting {name} in {where}{hint}"
    if policy == "warn":
        warnings.append(message)
        return
    raise ConfigError(f'{message} (unknown_settings = "warn" makes this a warning)')


def gather(
    fields: Mapping[str, FieldInfo],
    config_file: Path | None,
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> Layered:
    """Read every layer, refusing unknown names, and merge them by precedence."""
    environ = os.environ if environ is None else environ
    known = sorted(fields)
    file_values = read_config_file(config_file) if config_file else {}
    env_values = {
        key: value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and key not in NOT_SETTINGS
    }
    policy = _policy(flags, env_values, file_values, config_file)
    warnings: list[str] = []
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for name, value in file_values.items():
        if name not in fields:
            hint = _suggest(name, known, repr)
            _unknown(repr(name), hint, f"config file {config_file}", policy, warnings)
            continue
        info = fields[name]
        if _is_list(info) and isinstance(value, str):
            value = _converted(name, value, info, Source("file", str(config_file)))
        values[name] = value
        sources[name] = Source("file", str(config_file))
    for key, raw in sorted(env_values.items()):
        name = key[len(ENV_PREFIX) :].lower()
        if name not in fields:
            _unknown(key, _suggest(name, known, _env_name), "the environment", policy, warnings)
            continue
        source = Source("env", key)
        values[name] = _converted(name, raw, fields[name], source)
        sources[name] = source
    for name, value in flags.items():
        if value is None:
            continue
        if name not in fields:
            raise ConfigError(f"unknown setting {name!r}{_suggest(name, known, repr)}")
        values[name] = value
        sources[name] = Source("flag", flag_name(name))
    return Layered(values, sources, config_file, warnings)


def _converted(name: str, raw: str, info: FieldInfo, source: Source) -> Any:
    try:
        return _from_text(raw, name, info)
    except ValueError as exc:
        raise ConfigError(_line(name, raw, source, str(exc), info)) from None


def _policy(
    flags: Mapping[str, Any],
    env_values: Mapping[str, str],
    file_values: Mapping[str, Any],
    config_file: Path | None,
) -> str:
    """The unknown-settings policy, read before the check it governs."""
    candidates: list[tuple[Any, Source]] = [
        (flags.get(UNKNOWN_POLICY_FIELD), Source("flag", flag_name(UNKNOWN_POLICY_FIELD))),
        (
            env_values.get(_env_name(UNKNOWN_POLICY_FIELD)),
            Source("env", _env_name(UNKNOWN_POLICY_FIELD)),
        ),
        (file_values.get(UNKNOWN_POLICY_FIELD), Source("file", str(config_file))),
    ]
    for value, source in candidates:
        if value is None:
            continue
        if value not in ("error", "warn"):
            raise ConfigError(
                f'{UNKNOWN_POLICY_FIELD} = {value!r} ({source}): must be "error" or "warn"'
            )
        return str(value)
    return "error"


def _shown(value: Any, info: FieldInfo | None) -> str:
    secret = info is not None and SecretStr in (info.annotation, *typing.get_args(info.annotation))
    if secret:
        return "'********'"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _line(name: str, value: Any, source: Source, problem: str, info: FieldInfo | None) -> str:
    return f"invalid setting {name} = {_shown(value, info)} ({source}): {problem}"


def explain(exc: ValidationError, layered: Layered, fields: Mapping[str, FieldInfo]) -> ConfigError:
    """One line per invalid value: the field, where it came from, the problem."""
    lines = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        name = loc[0] if loc else ""
        problem = str(err["msg"]).removeprefix("Value error, ")
        if len(loc) > 1:
            problem = f"{'.'.join(loc[1:])}: {problem}"
        if name in fields:
            source = layered.sources.get(name, DEFAULT)
            value = layered.values.get(name, fields[name].default)
            lines.append(_line(name, value, source, problem, fields[name]))
        else:
            lines.append(f"invalid settings: {problem}")
    return ConfigError("\n".join(dict.fromkeys(lines)))
