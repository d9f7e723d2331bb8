"""Which ``Host`` a request may name: the defence against DNS rebinding.

A web page on ``evil.example`` can make its own name resolve to 127.0.0.1 and then script
requests to this localhost service as same-origin ones (reading the answers, and any access
token the browser holds for it). Those requests carry ``Host: evil.example``. So the API
answers only requests whose ``Host`` is a loopback address, ``localhost``, the address it is
bound to, or a name the operator listed (``allowed_hosts``: a reverse proxy's public name, a
LAN name); anything else is 421 ``host_not_allowed`` before authentication.
"""

from __future__ import annotations

import ipaddress

from appliance.errors import ApplianceError

_ANY = "*"


class HostNotAllowed(ApplianceError):
    status = 421
    code = "host_not_allowed"


def host_name(header: str) -> str:
    """The host part of a ``Host`` header value, lower-cased: ``[::1]:8000`` -> ``::1``."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    if value.count(":") == 1:  # name:port (a bare IPv6 address has several colons)
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def _loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True  # RFC 6761: always the loopback interface
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class HostRule:
    def __init__(self, allowed: list[str], bind_host: str) -> None:
        self.any = _ANY in allowed
        names = {host_name(a) for a in allowed if a != _ANY}
        bound = host_name(bind_host)
        if bound not in ("0.0.0.0", "::", ""):
            names.add(bound)  # a specific address it listens on is its own
        self.names = frozenset(names)

    def allows(self, header: str | None) -> bool:
        # No Host at all: HTTP/1.0 clients; browsers (the rebinding vector) always send one.
        if header is None or self.any:
            return True
        name = host_name(header)
        return _loopback(name) or name in self.names

    def refusal(self, header: str) -> HostNotAllowed:
        return HostNotAllowed(
            f"Host {header[:100]!r} is not served here: only loopback addresses, localhost and"
            " the names in the allowed_hosts setting (add this name there if a proxy or a LAN"
            " name sends it)"
        )
