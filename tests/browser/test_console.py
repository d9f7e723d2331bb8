"""The web console and the API docs in a real browser, against a real server.

The server (one for the module) serves a copy of the indexed Apple sample with the real
models, trusts a vendor's license key, and takes payments from the fake Stripe (the real
stripe library, only its HTTP transport local); the MRX filing waits in its inbox.
"""

from __future__ import annotations

import csv
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.billing import licenses
from tests.browser.conftest import Page, cli_json, copy_inbox, create_user
from tests.support.fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe, serve
from tests.support.live import LiveServer, free_port, live_server
from tests.support.rag import copy_data_dir

INBOX = Path(__file__).resolve().parent.parent / "data" / "inbox"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def vendor(tmp_path_factory: pytest.TempPathFactory) -> licenses.KeyPairFiles:
    return licenses.keygen(tmp_path_factory.mktemp("vendor"))


@pytest.fixture(scope="module")
def stripe_fake() -> Iterator[tuple[FakeStripe, str]]:
    fake = FakeStripe()
    with serve(fake) as base:
        yield fake, base


@pytest.fixture(scope="module")
def server(
    browser: Any,  # first: no Chromium, no server to build
    rag_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    vendor: licenses.KeyPairFiles,
    stripe_fake: tuple[FakeStripe, str],
) -> Iterator[LiveServer]:
    data = copy_data_dir(rag_template, tmp_path_factory.mktemp("console") / "data")
    copy_inbox(INBOX, data, "MRX")
    admin = cli_json(
        data, "users", "create", "console-admin@example.com", "--admin", "--password", PASSWORD
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with live_server(
        data,
        admin_key=admin["api_key"],
        port=port,
        APPLIANCE_INDEX_ON_START="false",
        # The template's sections left unindexed stay so (as in the Q&A's live tests): with
        # imports indexed while serving they would answer 503 index_building.
        APPLIANCE_INDEX_NEW_IMPORTS="false",
        APPLIANCE_LICENSE_PUBLIC_KEYS=json.dumps([vendor.public_entry]),
        APPLIANCE_STRIPE_SECRET_KEY=API_KEY,
        APPLIANCE_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        APPLIANCE_STRIPE_API_BASE=stripe_fake[1],
        APPLIANCE_CHECKOUT_SUCCESS_URL=f"{base}/?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        APPLIANCE_CHECKOUT_CANCEL_URL=f"{base}/?checkout=cancelled",
    ) as srv:
        yield srv


def wait_balance(page: Page, expected: int) -> None:
    page.page.wait_for_function(
        "n => document.getElementById('balance').textContent.startsWith(n + ' ')",
        arg=f"{expected:,}",
        timeout=15_000,
    )


def test_sign_in_with_password_then_sign_out(page: Page, server: LiveServer) -> None:
    user = create_user(server, "pw@example.com", password=PASSWORD)
    page.goto("/")
    page.page.wait_for_selector("#signin-password")
    page.shot("signin")
    page.console.allow(401)
    page.page.fill("#email", user["email"])
    page.page.fill("#password", "not the password")
    page.page.click("#signin-password button")
    page.page.wait_for_selector("#signin-error:has-text('wrong e-mail or password')")
    page.page.fill("#password", PASSWORD)
    page.page.click("#signin-password button")
    page.wait_ready("ask")
    assert page.page.inner_text("#who-email") == user["email"]
    assert page.page.is_hidden("#nav-admin")  # not an admin
    cookies = page.page.context.cookies()
    session = [c for c in cookies if c["name"].startswith("appliance_session_")]
    assert len(session) == 1 and session[0]["httpOnly"] and session[0]["sameSite"] == "Strict"
    # No script can read the session cookie.
    assert "appliance_session_" not in page.page.evaluate("document.cookie")
    page.page.click("#sign-out")
    page.page.wait_for_selector("#signin-password")
    state = page.page.evaluate("fetch('/auth/session').then(r => r.json())")
    assert state == {"signed_in": False}


def test_ask_a_question_and_open_a_citation(page: Page, server: LiveServer) -> None:
    user = create_user(server, "ask@example.com", credits=5)
    page.sign_in_with_key(user["api_key"])
    before = page.balance()
    page.page.fill("#question", "How many employees does Apple have?")
    page.page.fill("#ticker", "AAPL")
    page.page.click("#ask-button")
    page.page.wait_for_selector("#answer .badge.answered", timeout=60_000)
    cards = page.page.locator("article.citation")
    assert cards.count() >= 1
    first = cards.nth(0)
    assert "Apple" in first.inner_text() and "10-" in first.inner_text()
    sec = first.locator("a[href^='https://www.sec.gov/']")
    assert sec.count() == 1
    quote = first.locator("blockquote").inner_text()
    wait_balance(page, before - 1)  # cost_qa = 1
    page.shot("ask")
    first.locator("a.open-section").click()
    page.wait_ready("section")
    mark = page.page.locator("#cited")
    assert mark.is_visible()
    marked = " ".join(mark.inner_text().split())
    assert marked[:60] == " ".join(quote.split())[:60]
    assert page.page.get_attribute("#sec-link", "href").startswith("https://www.sec.gov/")
    page.shot("section")


def test_questions_it_cannot_answer_show_their_status_and_cost_nothing(
    page: Page, server: LiveServer
) -> None:
    user = create_user(server, "honest@example.com", credits=5)
    page.sign_in_with_key(user["api_key"])
    before = page.balance()
    page.page.fill("#question", "How many employees does Microsoft have?")
    page.page.click("#ask-button")
    page.page.wait_for_selector("#answer .badge.not_indexed", timeout=60_000)
    assert page.page.inner_text("#answer .badge") == "not indexed"
    assert "MSFT" in page.page.inner_text("#answer-message")
    companies = page.page.inner_text("#answer-companies")
    assert "MSFT (" in companies and "not indexed" in companies
    assert page.page.locator("article.citation").count() == 0
    page.page.fill("#question", "purple monkey dishwasher banana")
    page.page.click("#ask-button")
    page.page.wait_for_selector("#answer .badge.no_answer", timeout=60_000)
    assert page.page.inner_text("#answer .badge") == "no answer"
    assert page.page.inner_text("#answer-message").startswith("No answer")
    assert page.page.locator("article.citation").count() == 0
    status, quota, _ = server.request("GET", "/v1/quota", key=user["api_key"])
    assert status == 200 and quota["remaining"] == before
    status, usage, _ = server.request("GET", "/v1/usage", key=user["api_key"])
    events = [(e["status"], e["cost"]) for e in usage["events"]]
    assert sorted(events) == [("no_answer", 0), ("not_indexed", 0)]


def test_score_a_csv_see_the_balance_drop_and_download(
    page: Page, server: LiveServer, tmp_path: Path
) -> None:
    user = create_user(server, "csv@example.com", credits=20)
    page.sign_in_with_key(user["api_key"])
    page.goto("/#/sentiment", ready="sentiment")
    before = page.balance()
    texts = [
        "Revenue rose 20%, beating analysts' estimates, and the company raised its guidance.",
        "Shares plunged after the profit warning and the CEO's resignation.",
        'The annual general meeting will be held in "Helsinki" on 12 May.',
    ]
    upload = tmp_path / "texts.csv"
    with upload.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text"])
        for i, text in enumerate(texts, 1):
            writer.writerow([i, text])
    page.page.set_input_files("#sentiment-file", str(upload))
    page.page.wait_for_selector("#file-info:has-text('3 texts')")
    page.page.click("#score-button")
    page.page.wait_for_selector("#sentiment-results tbody tr >> nth=2", timeout=60_000)
    labels = page.page.locator("#sentiment-results td.label").all_inner_texts()
    assert labels[0] == "positive" and labels[1] == "negative", labels
    wait_balance(page, before - 3)  # cost_sentiment = 1 per text
    with page.page.expect_download() as download:
        page.page.click("#download-csv")
    saved = tmp_path / "out.csv"
    download.value.save_as(saved)
    with saved.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["text"] for r in rows] == texts
    assert [r["label"] for r in rows] == labels
    assert all(
        abs(sum(float(r[k]) for k in ("negative", "neutral", "positive")) - 1) < 1e-3 for r in rows
    )
    page.shot("sentiment")


def test_credits_usage_and_redeem_a_license(
    page: Page, server: LiveServer, vendor: licenses.KeyPairFiles
) -> None:
    user = create_user(server, "credits@example.com")
    status, _, _ = server.request(
        "POST",
        "/v1/nlp/sentiment",
        {"texts": ["Profit rose.", "Loss widened."]},
        key=user["api_key"],
    )
    assert status == 200
    _, version, _ = server.request("GET", "/version")
    key = licenses.issue(
        licenses.load_private_key(vendor.private_key),
        credits=250,
        install_id=version["install_id"],
    )
    page.sign_in_with_key(user["api_key"])
    page.goto("/#/credits", ready="credits")
    assert page.page.locator("#usage-chart rect").count() >= 1
    assert "sentiment" in page.page.inner_text("#usage-events")
    before = page.balance()
    page.page.fill("#license-key", key)
    page.page.click("#redeem-form button")
    page.page.wait_for_selector("#redeem-result:has-text('Redeemed 250 credits')")
    wait_balance(page, before + 250)
    page.shot("credits")
    page.console.allow(409)
    page.page.fill("#license-key", key)
    page.page.click("#redeem-form button")
    page.page.wait_for_selector("#flash:has-text('license_already_redeemed')")
    wait_balance(page, before + 250)


def test_buy_credits_at_checkout_and_see_the_result(
    page: Page, server: LiveServer, stripe_fake: tuple[FakeStripe, str]
) -> None:
    fake = stripe_fake[0]
    user = create_user(server, "buyer@example.com")
    page.sign_in_with_key(user["api_key"])
    page.goto("/#/credits", ready="credits")
    before = page.balance()

    def stripe_checkout(route: Any) -> None:
        # Stand in for Stripe's hosted page: the buyer pays, Stripe tells the appliance
        # (a signed webhook) and sends the browser back to the success URL.
        session_id = route.request.url.rsplit("/", 1)[-1]
        payload, headers = fake.delivery(fake.complete(session_id))
        req = urllib.request.Request(
            server.base + "/billing/webhook", data=payload, headers=headers, method="POST"
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200
        success = fake.sessions[session_id]["success_url"]
        route.fulfill(
            status=302,
            headers={"Location": success.replace("{CHECKOUT_SESSION_ID}", session_id)},
        )

    page.page.route("https://checkout.stripe.test/**", stripe_checkout)
    page.page.click("#packs button")
    page.page.wait_for_selector("#checkout-result .badge.credited", timeout=30_000)
    assert "200 credits" in page.page.inner_text("#checkout-result")
    wait_balance(page, before + 200)
    assert "?checkout" not in page.page.url  # a reload does not show it again


def test_admin_creates_a_user_and_indexes_a_ticker_from_the_inbox(
    page: Page, server: LiveServer
) -> None:
    page.sign_in_with_key(server.admin_key)
    assert page.page.is_visible("#nav-admin")
    page.goto("/#/admin", ready="admin")
    components = page.page.inner_text("#components")
    assert "database" in components and "models" in components and "retrieval" in components
    page.page.fill("#new-email", "made-in-console@example.com")
    page.page.click("#create-user button[type=submit]")
    new_key = page.page.inner_text("#new-key .key-once")
    status, me, _ = server.request("GET", "/v1/me", key=new_key)
    assert status == 200 and me["email"] == "made-in-console@example.com"
    row = page.page.locator("#users tr", has_text="made-in-console@example.com")
    row.locator("input.grant-amount").fill("50")
    row.locator("form.grant button").click()
    page.page.wait_for_selector("#flash:has-text('Granted 50 credits')")
    _, quota, _ = server.request("GET", "/v1/quota", key=new_key)
    assert quota["purchased"] == 50
    # The users table shows the one balance (issue 15's names): spendable and purchased.
    page.page.wait_for_function(
        """email => [...document.querySelectorAll('#users tr')].some(tr =>
             tr.textContent.includes(email) &&
             [...tr.querySelectorAll('td')].map(td => td.textContent).join('|')
               .includes(`|${60}|50|`))""",
        arg="made-in-console@example.com",
        timeout=15_000,
    )
    page.page.fill("#index-ticker", "MRX")
    page.page.click("#index-form button")
    page.page.wait_for_selector("#job-live .job[data-status='done']", timeout=240_000)
    assert "chunks" in page.page.inner_text("#job-live")
    page.shot("admin")


def _remaining(server: LiveServer, key: str) -> int:
    status, body, _ = server.request("GET", "/v1/quota", key=key)
    assert status == 200, body
    return int(body["remaining"])


def _send(op: Any) -> tuple[int, str]:
    """Press the operation's Send and wait for this answer (the old one is replaced)."""
    op.locator(".result").evaluate("el => el.replaceChildren()")
    op.locator("form.try button[type=submit]").click()
    status = op.locator(".result [data-status]")
    status.wait_for(timeout=30_000)
    return int(status.get_attribute("data-status") or 0), op.locator(
        ".result pre.body"
    ).inner_text()


def test_api_reference_documents_and_tries_sentiment_with_a_key(
    page: Page, server: LiveServer
) -> None:
    """/docs (our own page, not Swagger UI): every operation drawn collapsed, the sentiment
    operation's schemas resolved into fields, try-it-out with a key typed into the page."""
    user = create_user(server, "docs@example.com")
    page.goto("/docs", ready="docs")
    assert page.page.locator("details.op").count() >= 30
    assert page.page.locator("details.op[open]").count() == 0
    op = page.page.locator("details.op#post_sentiment")
    # The price this site charges (settings' cost_sentiment), not the setting's name.
    _, doc, _ = server.request("GET", "/openapi.json")
    price = doc["paths"]["/v1/nlp/sentiment"]["post"]["x-billable"]
    assert f"billable: {price['credits']} credit" in op.locator("summary").inner_text()
    op.locator("summary").click()
    body = op.locator(".op-body")
    request_schema = body.locator(".schema").first.inner_text()
    assert "SentimentRequest" in request_schema and "texts" in request_schema
    assert "nullable" in request_schema and "max items" in request_schema
    responses = body.inner_text()
    for text in ("SentimentOut", "X-Credits-Remaining", "RateLimit-Remaining", "402", "422"):
        assert text in responses, text
    assert "Idempotency-Key" in body.locator("table.params").inner_text()

    page.page.fill("#docs-key", user["api_key"])
    before = _remaining(server, user["api_key"])
    status, answer = _send(op)
    assert status == 200, answer
    assert json.loads(answer)["label"] in ("negative", "neutral", "positive")
    credits = int(op.locator("[data-header='X-Credits-Remaining']").inner_text())
    assert credits == before - 1 == _remaining(server, user["api_key"])  # cost_sentiment = 1
    assert op.locator("[data-header='X-Request-ID']").inner_text().strip()
    op.evaluate("el => el.scrollIntoView()")
    page.shot("docs", full_page=False)

    # A bad request: the error body is shown in the page (Chromium's own log of the failed
    # fetch is allowed; anything the page logs is not).
    page.console.allow(400)
    page.console.allow(422)
    op.locator("textarea").fill('{"txt": "no such field"}')
    status, answer = _send(op)
    assert status == 400 and json.loads(answer)["error"]["code"] == "invalid_payload", answer
    op.locator("input[name='Idempotency-Key']").fill("docs-page-key-1")
    op.locator("textarea").fill('{"text": "Revenue rose 12%."}')
    assert _send(op)[0] == 200
    op.locator("textarea").fill('{"text": "Revenue fell 12%."}')
    status, answer = _send(op)
    assert status == 422, answer
    error = json.loads(answer)["error"]
    assert error["code"] == "idempotency_key_reused" and error["request_id"]
    assert _remaining(server, user["api_key"]) == before - 2  # the 400 and the 422 cost nothing
    op.locator("textarea").fill("{not json")
    op.locator("form.try button[type=submit]").click()
    op.locator(".result .error:has-text('not valid JSON')").wait_for()


def test_api_reference_uses_the_console_session_and_deep_links(
    page: Page, server: LiveServer
) -> None:
    """Signed in to the console (with a key), /docs#operationId opens that operation in view,
    and try-it-out without a key goes through the session cookie with its CSRF token."""
    user = create_user(server, "docs-session@example.com")
    page.sign_in_with_key(user["api_key"])
    page.goto("/docs#post_sentiment", ready="docs")
    op = page.page.locator("details.op#post_sentiment")
    assert op.get_attribute("open") is not None
    assert page.page.locator("details.op[open]").count() == 1
    top = op.evaluate("el => el.getBoundingClientRect().top")
    assert 0 <= top < 200, top
    page.page.wait_for_selector("#docs-session:has-text('docs-session@example.com')")
    before = _remaining(server, user["api_key"])
    status, answer = _send(op)
    assert status == 200, answer
    assert int(op.locator("[data-header='X-Credits-Remaining']").inner_text()) == before - 1
    # Another operation by its link, without reloading.
    page.page.evaluate("location.hash = 'get_quota'")
    page.page.wait_for_selector("details.op#get_quota[open] form.try")
    # By keyboard: an operation's summary takes the focus, Enter opens it, Send is a button.
    page.page.focus("details.op#get_me > summary")
    page.page.keyboard.press("Enter")
    page.page.wait_for_selector("details.op#get_me[open] form.try")
    page.page.focus("details.op#get_me form.try button[type=submit]")
    page.page.keyboard.press("Enter")
    me = page.page.locator("details.op#get_me .result [data-status]")
    me.wait_for(timeout=30_000)
    assert me.get_attribute("data-status") == "200"
    assert "docs-session@example.com" in page.page.inner_text("details.op#get_me pre.body")


def test_swagger_ui_still_tries_it_out_with_a_key(page: Page, server: LiveServer) -> None:
    user = create_user(server, "swagger@example.com")
    page.goto("/docs/swagger")
    page.page.wait_for_selector(".opblock", timeout=60_000)
    assert page.page.locator(".opblock").count() >= 25
    page.page.click("button.authorize")
    page.page.locator(".auth-container input").first.fill(user["api_key"])
    page.page.locator(".auth-container button.authorize").first.click()
    page.page.click("button.btn-done")
    op = page.page.locator("#operations-billing-get_quota")
    op.locator(".opblock-summary").click()
    op.locator("button.try-out__btn").click()
    op.locator("button.execute").click()
    cell = op.locator(".live-responses-table tbody .response-col_status").first
    cell.wait_for(timeout=30_000)
    status = cell.inner_text()
    assert status.strip().startswith("200")
    assert "allowance_remaining" in op.locator(".live-responses-table").inner_text()
    op.scroll_into_view_if_needed()
    page.shot("docs-swagger", full_page=False)
    # An operation's schemas are $refs into components, resolved when it is opened
    # (swagger.js swaps Swagger UI's 3.1 resolver for the 3.0 one): the request model must be
    # drawn whole.
    sentiment = page.page.locator("#operations-nlp-post_sentiment")
    sentiment.locator(".opblock-summary").click()
    body = sentiment.locator(".opblock-section-request-body")
    body.locator("button[data-name='model']").click()
    body.get_by_text("Exactly one of").wait_for(timeout=15_000)
    schema = body.inner_text()
    assert "SentimentRequest" in schema and "texts" in schema and "string | null" in schema


def test_sign_in_is_throttled_after_failed_attempts_and_says_so(
    page: Page, server: LiveServer
) -> None:
    """The console signs in with JSON through the same throttled path as POST /auth/token:
    after login_max_failures wrong passwords the account is locked (429 login_throttled),
    the right password included, and the page says what happened and what to do."""
    user = create_user(server, "locked@example.com", password=PASSWORD)
    page.goto("/")
    page.page.wait_for_selector("#signin-password")
    page.console.allow(401)
    page.console.allow(429)
    page.page.fill("#email", user["email"])
    for attempt in range(5):  # login_max_failures (default 5)
        page.page.fill("#password", f"wrong password {attempt}")
        page.page.click("#signin-password button")
        page.page.wait_for_selector("#signin-error:has-text('wrong e-mail or password')")
        page.page.evaluate("document.getElementById('signin-error').textContent = ''")
    page.page.fill("#password", PASSWORD)
    page.page.click("#signin-password button")
    page.page.wait_for_selector("#signin-error:has-text('Too many failed sign-ins')")
    text = page.page.inner_text("#signin-error")
    assert "in 15 minutes" in text and "appliance users unlock" in text, text
    assert not [c for c in page.page.context.cookies() if c["name"].startswith("appliance_")]
    # The API's token endpoint shares the lock.
    status, body, headers = server.request(
        "POST", "/auth/token", {"email": user["email"], "password": PASSWORD}
    )
    assert status == 429 and body["error"]["code"] == "login_throttled", body
    assert int(headers["retry-after"]) > 0
