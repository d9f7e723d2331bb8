"""Unpadded base64url with exactly one spelling per byte string, for access tokens and
license keys: Python's decoder also takes padding, ``+``/``/``, skips characters outside the
alphabet and ignores a last character's unused bits, so without this check one signed value
would have many spellings (and a replay check keyed on the string could be sidestepped)."""

from __future__ import annotations

import base64
import re

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(text: str) -> bytes:
    """The bytes of the canonical spelling ``text``; raises ValueError for any other."""
    if not _ALPHABET.fullmatch(text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if encode(data) != text:
        raise ValueError("not canonical base64url")
    return data
