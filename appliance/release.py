"""Release artifacts an air-gapped site can check: ``SHA256SUMS`` and its Ed25519 signature.

``make release`` writes the artifacts into one folder, then :func:`write_sums` lists the
SHA-256 of every file in it (``<hex>  <relative path>``, the ``sha256sum`` format, so
``sha256sum -c SHA256SUMS`` works too) and :func:`sign` writes ``SHA256SUMS.sig``: the
base64 Ed25519 signature of the exact bytes of ``SHA256SUMS``. :func:`verify` checks the
signature with the vendor's public key (obtained separately, never from the folder), then
every listed file, and refuses files that are not listed: ``pip --find-links`` would install
an extra wheel dropped into the wheelhouse.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from appliance.billing.licenses import key_id_of
from appliance.errors import ApplianceError

SUMS = "SHA256SUMS"
SIGNATURE = "SHA256SUMS.sig"
PRIVATE_KEY_FILE = "release_signing_key.pem"
PUBLIC_KEY_FILE = "release_public_key.txt"


class ReleaseKeyError(ApplianceError):
    status = 400
    code = "invalid_release_key"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _artifacts(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name not in (SUMS, SIGNATURE)
    )


def write_sums(folder: Path) -> Path:
    """List every file under ``folder`` with its SHA-256 in ``folder/SHA256SUMS``."""
    lines = [f"{file_sha256(folder / name)}  {name}\n" for name in _artifacts(folder)]
    path = folder / SUMS
    path.write_text("".join(lines), encoding="utf-8")
    return path


def sign(folder: Path, private_key: Ed25519PrivateKey) -> Path:
    """Write ``SHA256SUMS.sig`` for the folder's ``SHA256SUMS``."""
    signature = private_key.sign((folder / SUMS).read_bytes())
    path = folder / SIGNATURE
    path.write_text(base64.b64encode(signature).decode("ascii") + "\n", encoding="ascii")
    return path


def load_public_key(spec: str) -> Ed25519PublicKey:
    """The vendor's public key from what people have at hand: the ``kid:base64`` line that
    ``appliance release keygen`` prints (the key id is checked), the bare base64 key, or a
    file holding either (or a PEM public key)."""
    text = spec.strip()
    path = Path(text)
    if len(text) < 4096 and path.is_file():
        data = path.read_bytes()
        if b"BEGIN PUBLIC KEY" in data:
            key = serialization.load_pem_public_key(data)
            if not isinstance(key, Ed25519PublicKey):
                raise ReleaseKeyError(f"{path} is not an Ed25519 public key")
            return key
        text = data.decode("ascii", errors="replace").strip()
    kid, sep, b64 = text.rpartition(":")
    if not sep:
        b64 = text
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(b64.strip(), validate=True))
    except (binascii.Error, ValueError):
        raise ReleaseKeyError(
            "--public-key must be the 'kid:base64' line of release_public_key.txt, the base64 "
            "key, or a file holding it"
        ) from None
    if kid and kid.strip() != key_id_of(key):
        raise ReleaseKeyError(f"key id {kid.strip()} does not match the key ({key_id_of(key)})")
    return key


@dataclass
class Verification:
    signature_ok: bool
    key_id: str
    ok: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.signature_ok and not (
            self.mismatched or self.missing or self.unlisted or self.problems
        )

    def public(self) -> dict[str, object]:
        return {
            "verified": self.passed,
            "signature_ok": self.signature_ok,
            "key_id": self.key_id,
            "files_ok": self.ok,
            "mismatched": self.mismatched,
            "missing": self.missing,
            "unlisted": self.unlisted,
            "problems": self.problems,
        }


def _entries(text: str, report: Verification) -> list[tuple[str, str]]:
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        digest, _, name = line.partition("  ")
        name = name.removeprefix("*")
        pure = PurePosixPath(name)
        if len(digest) != 64 or not name or pure.is_absolute() or ".." in pure.parts:
            report.problems.append(f"{SUMS} line {number} is not '<sha256>  <relative path>'")
            continue
        entries.append((digest.lower(), name))
    return entries


def verify(folder: Path, public_key: Ed25519PublicKey) -> Verification:
    """Check the signature of ``SHA256SUMS`` and every file against it."""
    report = Verification(signature_ok=False, key_id=key_id_of(public_key))
    sums, sig = folder / SUMS, folder / SIGNATURE
    if not sums.is_file() or not sig.is_file():
        report.problems.append(f"{folder} has no {SUMS} and {SIGNATURE}: not a release folder")
        return report
    body = sums.read_bytes()
    try:
        public_key.verify(base64.b64decode(sig.read_text(encoding="ascii").strip()), body)
        report.signature_ok = True
    except (InvalidSignature, binascii.Error, ValueError, UnicodeDecodeError):
        report.problems.append(f"{SIGNATURE} is not a signature of {SUMS} by this key")
        return report  # an unsigned list proves nothing about the files
    entries = _entries(body.decode("utf-8", errors="replace"), report)
    for digest, name in entries:
        path = folder / name
        if not path.is_file():
            report.missing.append(name)
        elif file_sha256(path) != digest:
            report.mismatched.append(name)
        else:
            report.ok.append(name)
    listed = {name for _, name in entries}
    report.unlisted = [name for name in _artifacts(folder) if name not in listed]
    return report
