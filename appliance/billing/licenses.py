"""Offline license keys: Ed25519-signed credit vouchers, each redeemable exactly once.

The vendor runs ``license keygen`` once and ``license issue`` per voucher; an appliance that
trusts the vendor's public key (setting ``license_public_keys``) redeems the voucher with no
network at all. A key string is::

    APL1.<payload>.<signature>

- ``APL1`` names the format version; a later format gets a new prefix, never a reinterpretation.
- ``payload`` is base64url (no padding) of compact JSON with exactly these fields:
  ``kid`` (key id of the signing key), ``lid`` (unique license id, 32 hex chars), ``credits``,
  ``install`` (the install id it is bound to), ``iat`` (issued, UTC ``YYYY-MM-DDTHH:MM:SSZ``),
  ``exp`` (last valid day, UTC ``YYYY-MM-DD``, or null for no expiry).
- ``signature`` is base64url of the Ed25519 signature over the ASCII bytes ``APL1.<payload>``,
  so the version prefix is covered too.

Replays are refused by the license id (``lid``), not the key text: re-encoding the same
payload gives another string but the same id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from appliance import b64url
from appliance.billing.errors import (
    InvalidLicense,
    LicenseAlreadyRedeemed,
    LicenseExpired,
    LicenseWrongInstall,
)
from appliance.billing.ledger import add_credits
from appliance.db.connection import Connection
from appliance.db.queries import licenses as q

PREFIX = "APL1"
PRIVATE_KEY_FILE = "license_signing_key.pem"
PUBLIC_KEY_FILE = "license_public_key.txt"
MAX_CREDITS = 1_000_000_000
# Generous bound on a key string: a real one is about 300 characters.
MAX_KEY_LENGTH = 2048


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    kid: str = Field(min_length=1, max_length=64)
    lid: str = Field(pattern=r"^[0-9a-f]{32}$")
    credits: int = Field(ge=1, le=MAX_CREDITS)
    install: str = Field(min_length=1, max_length=128)
    iat: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
    exp: str | None = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class License:
    """A license whose signature checked out against a trusted key."""

    key_id: str
    license_id: str
    credits: int
    install_id: str
    issued_at: str
    expires: date | None


@dataclass(frozen=True)
class KeyPairFiles:
    private_key: Path
    public_key: Path
    key_id: str
    public_entry: str  # the line for setting license_public_keys

    def public(self) -> dict[str, str]:
        return {
            "private_key": str(self.private_key),
            "public_key": str(self.public_key),
            "key_id": self.key_id,
            "public_entry": self.public_entry,
        }


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """A short, stable fingerprint of the public key: first 8 bytes of its SHA-256, hex."""
    return hashlib.sha256(raw_public_key(public_key)).hexdigest()[:16]


def public_entry(public_key: Ed25519PublicKey) -> str:
    """The ``kid:base64`` form that setting ``license_public_keys`` takes."""
    raw = base64.b64encode(raw_public_key(public_key)).decode("ascii")
    return f"{key_id_of(public_key)}:{raw}"


def parse_public_keys(entries: Iterable[str]) -> dict[str, Ed25519PublicKey]:
    """Trusted keys by key id. Raises ValueError naming a malformed entry."""
    keys: dict[str, Ed25519PublicKey] = {}
    for entry in entries:
        kid, _, b64 = entry.partition(":")
        try:
            raw = base64.b64decode(b64.strip(), validate=True)
            keys[kid.strip()] = Ed25519PublicKey.from_public_bytes(raw)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"license public key {kid!r} is not a base64 Ed25519 key") from exc
    return keys


def keygen(
    out_dir: Path,
    private_name: str = PRIVATE_KEY_FILE,
    public_name: str = PUBLIC_KEY_FILE,
) -> KeyPairFiles:
    """Write a new vendor key pair into ``out_dir``; never overwrites an existing key. (The
    release signing key, ``appliance release keygen``, is the same kind of pair.)"""
    out_dir.mkdir(parents=True, exist_ok=True)
    private_path, public_path = out_dir / private_name, out_dir / public_name
    if private_path.exists() or public_path.exists():
        raise FileExistsError(f"a key pair already exists in {out_dir}")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Created 0600 from the start, so the private key is never readable by others.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    entry = public_entry(key.public_key())
    public_path.write_text(entry + "\n", encoding="ascii")
    return KeyPairFiles(private_path, public_path, key_id_of(key.public_key()), entry)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def issue(
    private_key: Ed25519PrivateKey,
    *,
    credits: int,
    install_id: str,
    expires: date | None = None,
    now: datetime | None = None,
) -> str:
    """A signed license key string for ``credits`` bound to ``install_id``."""
    issued = (now or datetime.now(UTC)).astimezone(UTC)
    payload = _Payload(
        kid=key_id_of(private_key.public_key()),
        lid=secrets.token_hex(16),
        credits=credits,
        install=install_id,
        iat=issued.strftime("%Y-%m-%dT%H:%M:%SZ"),
        exp=expires.isoformat() if expires else None,
    )
    body = b64url.encode(
        json.dumps(payload.model_dump(), separators=(",", ":"), sort_keys=True).encode()
    )
    signing_input = f"{PREFIX}.{body}".encode("ascii")
    return f"{PREFIX}.{body}.{b64url.encode(private_key.sign(signing_input))}"


def verify(key: str, trusted: Mapping[str, Ed25519PublicKey]) -> License:
    """Check format and signature. Raises InvalidLicense; says nothing of expiry or install."""
    key = key.strip()
    parts = key.split(".")
    if len(key) > MAX_KEY_LENGTH or len(parts) != 3 or parts[0] != PREFIX:
        raise InvalidLicense(f"not a license key (expected {PREFIX}.<payload>.<signature>)")
    _, body, sig = parts
    try:
        payload_bytes, signature = b64url.decode(body), b64url.decode(sig)
        payload = _Payload.model_validate(json.loads(payload_bytes))
    except (ValueError, ValidationError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: the payload is parsed before the signature is checked, and 2 KiB
        # of base64 can hold ``[[[...`` deeper than the JSON decoder's recursion limit.
        raise InvalidLicense("the license key is malformed") from exc
    public_key = trusted.get(payload.kid)
    if public_key is None:
        raise InvalidLicense("the license key was signed by a key this appliance does not trust")
    try:
        public_key.verify(signature, f"{PREFIX}.{body}".encode("ascii"))
    except InvalidSignature as exc:
        raise InvalidLicense("the license key's signature does not match") from exc
    try:
        expires = date.fromisoformat(payload.exp) if payload.exp else None
    except ValueError as exc:  # a signed but impossible date: the issuer's bug, still invalid
        raise InvalidLicense("the license key has an invalid expiry date") from exc
    return License(
        key_id=payload.kid,
        license_id=payload.lid,
        credits=payload.credits,
        install_id=payload.install,
        issued_at=payload.iat,
        expires=expires,
    )


def check_applicable(lic: License, install_id: str, today: date | None = None) -> None:
    """Raises LicenseExpired after the expiry day (UTC) and LicenseWrongInstall."""
    today = today or datetime.now(UTC).date()
    if lic.expires is not None and today > lic.expires:
        raise LicenseExpired(f"the license expired on {lic.expires.isoformat()}")
    if lic.install_id != install_id:
        raise LicenseWrongInstall("the license was issued for another installation")


@dataclass(frozen=True)
class Redeemed:
    license: License
    user_id: int
    balance_after: int


def redeem(conn: Connection, lic: License, user_id: int) -> Redeemed:
    """Record the redemption and credit the user, together. A write function.

    Raises LicenseAlreadyRedeemed when this license id was redeemed before (by anyone), and
    NotFound for an unknown user; either way nothing changes.
    """
    row = q.insert_redemption(
        conn,
        lic.license_id,
        lic.key_id,
        user_id,
        lic.credits,
        lic.issued_at,
        lic.expires.isoformat() if lic.expires else None,
    )
    if row is None:
        raise LicenseAlreadyRedeemed("this license key has already been redeemed")
    entry = add_credits(conn, user_id, lic.credits, "license", lic.license_id)
    if entry is None:  # a ledger row without its redemption row: still never twice
        raise LicenseAlreadyRedeemed("this license key has already been redeemed")
    return Redeemed(lic, user_id, entry.balance_after)
