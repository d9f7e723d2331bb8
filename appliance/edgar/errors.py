"""Errors raised by the EDGAR layer; each maps to an HTTP status and a stable code."""

from __future__ import annotations

from appliance.errors import ApplianceError

__all__ = ["EdgarConfigError", "EdgarUnavailable", "InvalidFiling", "InvalidSymbolFile"]


class InvalidSymbolFile(ApplianceError):
    """A ticker file is not the SEC's company_tickers(.json|_exchange.json) shape."""

    status = 422
    code = "invalid_symbol_file"


class InvalidFiling(ApplianceError):
    """A file cannot be read as a filing (empty, truncated, binary, no accession ...)."""

    status = 422
    code = "invalid_filing"


class EdgarUnavailable(ApplianceError):
    """EDGAR cannot be reached (no network, DNS failure, retries exhausted)."""

    status = 503
    code = "edgar_unavailable"


class EdgarConfigError(ApplianceError):
    """Fetching is not configured, e.g. no ``edgar_user_agent`` with a contact e-mail."""

    status = 400
    code = "edgar_not_configured"
