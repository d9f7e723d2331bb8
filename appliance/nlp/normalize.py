"""Text clean-up shared by sentiment training and inference (same function on both sides)."""

from __future__ import annotations

import re

_URL = re.compile(r"https?://\S+|www\.\S+")
_CASHTAG = re.compile(r"\$([A-Za-z][A-Za-z.]{0,5})\b")
_LEAD_TICKERS = re.compile(r"^(?:\s*\$[A-Z][A-Z.]{0,5}\s*)+[-:|]\s+")
_HASH = re.compile(r"#(\w)")
_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Drop links, leading ticker lists ("$CCL $RCL - ..."), and the ``$``/``#`` sigils.

    Tweets carry these and formal sentences do not; removing them keeps the model from
    keying on tweet-only surface features.
    """
    text = _URL.sub(" ", text)
    text = _LEAD_TICKERS.sub("", text)
    text = _CASHTAG.sub(r"\1", text)
    text = _HASH.sub(r"\1", text)
    return _WS.sub(" ", text).strip()
