"""The small defects of the adversarial pass: a deep webhook, token encodings, decompression
bombs (and, in the fault suite, /readyz counts and the JSON answer at the grace limit)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from appliance.app import create_app
from appliance.auth import issue_token, verify_token
from appliance.bootstrap import initialize
from appliance.db.connection import connect
from appliance.edgar.errors import InvalidFiling
from appliance.edgar.filing import decompress
from appliance.edgar.importer import import_paths
from appliance.edgar.inflate import TooLarge, bounded
from appliance.errors import Unauthorized
from appliance.settings import load_settings
from tests.support.fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe


def test_a_validly_signed_webhook_nested_50000_deep_is_400(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path / "d",
        load_models=False,
        access_log=False,
        stripe_secret_key=API_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base="http://127.0.0.1:9",
    )
    initialize(settings)
    payload = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    headers = {"Stripe-Signature": FakeStripe().sign(payload), "Content-Type": "application/json"}
    with TestClient(create_app(settings)) as c:
        r = c.post("/billing/webhook", content=payload, headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_payload"


def _variants(token: str) -> list[str]:
    prefix, payload, sig = token.split(".")
    url_to_std = str.maketrans("-_", "+/")
    return [
        f"{prefix}.{payload}.{sig}=",
        f"{prefix}.{payload}=.{sig}",
        f"{prefix}.{payload}.{sig.translate(url_to_std)}",
        f"{prefix}.{payload.translate(url_to_std)}.{sig}",
        f"{prefix}.{payload}.{sig[:10]}!{sig[10:]}",  # a stray character the decoder skips
    ]


def test_tokens_have_one_spelling() -> None:
    secret = b"s" * 32
    # Tokens whose signature and payload hold '-' or '_', so the +/ variants differ.
    tokens = [issue_token(secret, 7, 3600, now=1_900_000_000 + i) for i in range(200)]
    token = next(t for t in tokens if set("-_") & set(t.split(".")[2]) and "_" in t)
    assert verify_token(secret, token, now=1_900_000_100) == 7
    for variant in _variants(token):
        if variant == token:
            continue
        with pytest.raises(Unauthorized):
            verify_token(secret, variant, now=1_900_000_100)


def test_decompression_stops_at_the_ceiling() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)
    assert len(bomb) < 100_000
    with pytest.raises(TooLarge):
        bounded(bomb, 1_000_000)
    assert bounded(bomb, 50_000_000) == b"\0" * 50_000_000
    two = gzip.compress(b"ab") + gzip.compress(b"cd")  # several members, as gzip allows
    assert bounded(two, 10) == b"abcd"
    with pytest.raises(zlib.error):
        bounded(bomb[:1000], 10**9)
    assert bounded(zlib.compress(b"xyz"), 10, zlib.MAX_WBITS) == b"xyz"


def test_a_bomb_among_filings_fails_alone(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox" / "BOMB"
    inbox.mkdir(parents=True)
    (inbox / "10-K_2020-01-01_0000000000-20-000001.htm.gz").write_bytes(
        gzip.compress(b"<html>" + b" " * 5_000_000 + b"</html>")
    )
    settings = load_settings(data_dir=tmp_path / "d", load_models=False, access_log=False)
    initialize(settings)
    conn = connect(settings.db_path)
    try:
        report = import_paths(conn, [inbox], max_bytes=1_000_000)
    finally:
        conn.close()
    (failed,) = report.failed
    assert "max_decompressed_bytes" in failed.reason
    with pytest.raises(InvalidFiling, match="max_decompressed_bytes"):
        decompress(gzip.compress(b"x" * 2_000_000), max_bytes=1_000_000)
