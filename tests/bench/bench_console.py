"""Page load times of the console and the API docs in headless Chromium, from loopback.

For each page: a fresh browser context (empty cache, like a first visit), navigate, and wait
until the page has rendered its data (the console and the API reference at /docs mark
``main[data-ready]``; for Swagger UI at /docs/swagger, its operations are drawn). The time is
the page's own ``performance.now()`` at that moment, i.e. from the start of navigation.
Baseline in the same run: navigating to ``/healthz`` (a bare JSON answer). Also prints the
bytes the pages load (vendored and own assets).

    .venv/bin/python tests/bench/bench_console.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from appliance.paths import web_static_dir  # noqa: E402
from tests.browser.conftest import CHROMIUM, FLAGS  # noqa: E402
from tests.support.live import live_server  # noqa: E402

PAGES = [
    ("sign-in", "/", "#signin-key", False),
    ("ask", "/#/ask", "main[data-ready='ask']", True),
    ("sentiment", "/#/sentiment", "main[data-ready='sentiment']", True),
    ("credits", "/#/credits", "main[data-ready='credits']", True),
    ("admin", "/#/admin", "main[data-ready='admin']", True),
    ("docs", "/docs", "main[data-ready='docs']", False),
    ("docs-swagger", "/docs/swagger", ".opblock", False),
]

OPEN_OPERATION = """() => new Promise((done) => {
  const op = document.getElementById("post_sentiment");
  const start = performance.now();
  op.addEventListener("toggle", () => requestAnimationFrame(() => {
    op.querySelector("form.try").getBoundingClientRect();
    done(performance.now() - start);
  }), { once: true });
  op.querySelector("summary").click();
})"""


def asset_bytes() -> tuple[int, int]:
    static = web_static_dir()
    vendored = sum(f.stat().st_size for f in (static / "vendor").rglob("*") if f.is_file())
    own = sum(
        f.stat().st_size
        for f in static.rglob("*")
        if f.is_file() and "vendor" not in f.relative_to(static).parts
    )
    return vendored, own


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory() as tmp,
        live_server(Path(tmp) / "data", APPLIANCE_LOAD_MODELS="false") as srv,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        state_file = Path(tmp) / "state.json"
        ctx = browser.new_context()
        page = ctx.new_page()
        page.goto(srv.base + "/")
        page.fill("#api-key", srv.admin_key)
        page.click("#signin-key button")
        page.wait_for_selector("main[data-ready='ask']")
        ctx.storage_state(path=str(state_file))
        ctx.close()

        def load(path: str, ready: str, signed_in: bool) -> float:
            context = browser.new_context(storage_state=str(state_file) if signed_in else None)
            p = context.new_page()
            p.goto(srv.base + path)
            p.wait_for_selector(ready, timeout=60_000)
            ms = float(p.evaluate("performance.now()"))
            context.close()
            return ms

        def open_operation() -> float:
            """/docs draws an operation's schemas and form when it is opened: the time from
            the click until they are laid out (the next frame)."""
            context = browser.new_context()
            p = context.new_page()
            p.goto(srv.base + "/docs")
            p.wait_for_selector("main[data-ready='docs']", timeout=60_000)
            ms = float(p.evaluate(OPEN_OPERATION))
            context.close()
            return ms

        baseline = [load("/healthz", "body", False) for _ in range(args.runs)]
        base = statistics.median(baseline)
        print(f"page load, cold cache, median of {args.runs} (ms from navigation start)")
        print(f"{'baseline /healthz':<20} {base:8.0f}")
        results = {}
        for name, path, ready, signed_in in PAGES:
            times = [load(path, ready, signed_in) for _ in range(args.runs)]
            med = statistics.median(times)
            results[name] = med
            print(f"{name:<20} {med:8.0f}   x{med / base:5.1f} of baseline   max {max(times):.0f}")
        open_ms = [open_operation() for _ in range(args.runs)]
        print(
            f"{'docs: open an op':<20} {statistics.median(open_ms):8.0f}   (POST /v1/nlp/sentiment,"
            f" click to drawn, max {max(open_ms):.0f})"
        )
        results["docs-open-operation"] = statistics.median(open_ms)
        browser.close()
    vendored, own = asset_bytes()
    print(f"assets: vendored {vendored:,} bytes, console and docs' own {own:,} bytes")
    print(json.dumps({"baseline_ms": base, "pages_ms": results}))


if __name__ == "__main__":
    main()
