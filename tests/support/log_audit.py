"""The whole test run's logs must not contain a secret (README "Logs").

A session-wide fixture (loaded by conftest's ``pytest_plugins``) records every secret the
tests create in this process (API keys, access tokens, license keys, passwords, token-signing
secrets, the secret settings) by wrapping the functions that make them, and captures every
log record of the process in its final format. At the end it reads the log of every server
the tests started (``serve-*.log`` under the run's temporary directory: tests/support/live.py
and the first-start tests write them there) and fails the run if any recorded secret, or
anything shaped like a key or token, appears in those logs.

Cheap by design: one list append per log record and per secret, one scan at the end.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from appliance.logs import JsonFormatter

SERVER_LOGS = "serve-*.log"  # server log files under the run's base temporary directory
MIN_SECRET = 8  # shorter strings ("pw") would match ordinary words
# Secrets by shape, as the appliance and Stripe write them (unredacted forms only).
SHAPES = re.compile(
    r"apk_[0-9a-f]{8}_[A-Za-z0-9_-]{4,}|at1\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|APL1\.[A-Za-z0-9_-]{8,}\.|\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{4,}|\bwhsec_[A-Za-z0-9]{4,}"
)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted is not ours to judge here
            self.handleError(record)


class Secrets:
    def __init__(self) -> None:
        self.found: set[str] = set()

    def add(self, value: Any) -> None:
        text = value.decode(errors="replace") if isinstance(value, bytes) else value
        if isinstance(text, str) and len(text.strip()) >= MIN_SECRET:
            self.found.add(text.strip())

    def wrap(self, module: str, name: str, record: Callable[[Any, tuple[Any, ...]], None]) -> None:
        """Replace ``module.name`` everywhere it was imported with a recording wrapper."""
        __import__(module)
        original = getattr(sys.modules[module], name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            record(result, args + tuple(kwargs.values()))
            return result

        for mod in list(sys.modules.values()):
            for attr, value in list(vars(mod).items() if mod else []):
                if value is original:
                    setattr(mod, attr, wrapper)


def _settings_secrets(secrets: Secrets, settings: Any) -> None:
    for field in ("token_secret", "stripe_secret_key", "stripe_webhook_secret"):
        value = getattr(settings, field, None)
        if value is not None:
            secrets.add(value.get_secret_value())


def _install(secrets: Secrets) -> None:
    secrets.wrap("appliance.auth", "new_api_key", lambda r, a: secrets.add(r.plaintext))
    secrets.wrap("appliance.auth", "issue_token", lambda r, a: secrets.add(r))
    secrets.wrap("appliance.auth", "hash_password", lambda r, a: secrets.add(a[0]))
    secrets.wrap("appliance.auth", "verify_password", lambda r, a: secrets.add(a[0]))
    secrets.wrap("appliance.billing.licenses", "issue", lambda r, a: secrets.add(r))
    secrets.wrap("appliance.token_secret", "_new_secret", lambda r, a: secrets.add(r))
    secrets.wrap("appliance.settings", "load_settings", lambda r, a: _settings_secrets(secrets, r))


def leaks(text: str, secrets: set[str]) -> list[str]:
    """What in ``text`` is a secret: recorded values, or anything shaped like one."""
    found = [f"recorded secret {s[:6]}..." for s in secrets if s in text]
    found += [f"{m.group(0)[:12]}... (by its shape)" for m in SHAPES.finditer(text)]
    return found


@pytest.fixture(scope="session", autouse=True)
def no_secrets_in_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secrets]:
    secrets = Secrets()
    _install(secrets)
    capture = _Capture()
    logging.getLogger().addHandler(capture)
    try:
        yield secrets
    finally:
        logging.getLogger().removeHandler(capture)
    texts = {"in-process log records": "\n".join(capture.lines)}
    for path in sorted(tmp_path_factory.getbasetemp().rglob(SERVER_LOGS)):
        texts[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    problems = [
        f"{where}: {leak}" for where, text in texts.items() for leak in leaks(text, secrets.found)
    ]
    total = sum(len(t) for t in texts.values())
    assert not problems, f"secrets in the logs ({total} characters checked): {problems[:10]}"
