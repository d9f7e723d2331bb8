"""Headless Chromium (Debian's ``chromium``, never a downloaded browser) driven by Playwright
against a real server on loopback.

One browser and one server for the module, a fresh context per test. Every page
fails its test on a JavaScript error or a console error (a CSP violation included); an HTTP
error the test provokes on purpose is allowed with :meth:`Console.allow`. Screenshots go to
``tests/artifacts/`` (git-ignored).

Without Chromium the tests skip, saying why; with ``APPLIANCE_BROWSER_REQUIRED=1`` (CI) that
is a failure instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.live import LiveServer

CHROMIUM = os.environ.get("APPLIANCE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return (
            f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium; "
            "make test does it when run as root) or set APPLIANCE_CHROMIUM"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


# Module scope (all browser tests live in one module, so still one browser for the run):
# Playwright's sync API keeps an event loop running on the main thread while it is started,
# and the rest of the suite calls asyncio.run(), which refuses to run inside it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("APPLIANCE_BROWSER_REQUIRED") == "1":
            pytest.fail(f"browser tests are required here but cannot run: {reason}")
        print(f"\nskipping the browser tests: {reason}", file=sys.stderr)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # Playwright gives each launch a fresh, empty profile directory.
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@dataclass
class Console:
    """What the page logged; the test fails on anything not explicitly allowed."""

    messages: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, status: int) -> None:
        """An HTTP error this test provokes on purpose (Chromium logs every failed fetch)."""
        self.allowed.append(re.compile(rf"status of {status} "))

    def errors(self) -> list[str]:
        return [m for m in self.messages if not any(p.search(m) for p in self.allowed)]


_STRAY_VALUES = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (["null", "undefined", "NaN", "[object Object]"].includes(n.nodeValue.trim())) {
      found.push(n.nodeValue.trim());
    }
  }
  return found;
}"""


@dataclass
class Page:
    page: Any
    console: Console
    server: LiveServer

    def goto(self, route: str, ready: str | None = None) -> None:
        self.page.goto(self.server.base + route)
        if ready:
            self.wait_ready(ready)

    def wait_ready(self, name: str, timeout: float = 30_000) -> None:
        self.page.wait_for_selector(f"main[data-ready='{name}']", timeout=timeout)

    def shot(self, name: str, full_page: bool = True) -> Path:
        """Save a screenshot, after checking the page shows no stray null/undefined/NaN (a
        value the page forgot to format)."""
        stray = self.page.evaluate(_STRAY_VALUES)
        assert not stray, f"the page shows {stray}"
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def sign_in_with_key(self, key: str) -> None:
        self.goto("/")
        self.page.fill("#api-key", key)
        self.page.click("#signin-key button")
        self.wait_ready("ask")

    def balance(self) -> int:
        text = self.page.inner_text("#balance")
        return int(text.split()[0].replace(",", ""))


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    console = Console()
    p.on(
        "console",
        lambda m: (
            console.messages.append(f"{m.type}: {m.text}")
            if m.type in ("error", "assert")
            else None
        ),
    )
    p.on("pageerror", lambda e: console.messages.append(f"pageerror: {e}"))
    try:
        yield Page(p, console, server)
        errors = console.errors()
        assert not errors, f"JavaScript/console errors: {errors}"
    finally:
        context.close()


def create_user(server: LiveServer, email: str, **extra: Any) -> dict[str, Any]:
    status, body, _ = server.request(
        "POST", "/v1/users", {"email": email, **extra}, key=server.admin_key
    )
    assert status == 201, body
    return dict(body)


def cli_json(data_dir: Path, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env["APPLIANCE_DATA_DIR"] = str(data_dir)
    out = subprocess.run(
        [sys.executable, "-m", "appliance", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def copy_inbox(source: Path, data_dir: Path, ticker: str) -> None:
    shutil.copytree(source / ticker, data_dir / "inbox" / ticker)
