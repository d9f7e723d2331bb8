"""Slowing down password guessing at ``POST /auth/token``.

Failed logins are counted per account (the e-mail as typed, so unknown e-mails count too and
do not reveal which exist) and per client address, in the database, so a restart does not
reset them. When either count reaches its limit within ``login_window_seconds`` (settings
``login_max_failures``, ``login_max_failures_per_address``), that account or address is
locked for ``login_lockout_seconds``: every attempt answers 429 with ``Retry-After``, the
right password included (otherwise guessing would go on), and no password is checked. A
successful login clears the account's count (not the address's: one valid account must not
launder guesses at others). ``appliance users unlock EMAIL`` lifts a lock early.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from appliance.db.connection import Connection
from appliance.db.database import Database
from appliance.db.queries import logins as q
from appliance.errors import ApplianceError
from appliance.settings import Settings

ACCOUNT = "account"
ADDRESS = "address"


class LoginThrottled(ApplianceError):
    status = 429
    code = "login_throttled"


def account_key(email: str) -> str:
    return email.strip().lower()


class LoginThrottle:
    def __init__(
        self, db: Database, settings: Settings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    def _keys(self, email: str, address: str | None) -> list[tuple[str, str]]:
        keys = [(ACCOUNT, account_key(email))]
        if address:
            keys.append((ADDRESS, address))
        return keys

    async def check(self, email: str, address: str | None) -> None:
        """Raise :class:`LoginThrottled` while the account or the address is locked."""
        now = self.clock()
        until = await self.db.read(q.locked_until, self._keys(email, address), now)
        if until is not None:
            raise _throttled(until - now)

    async def failed(self, email: str, address: str | None) -> float | None:
        """Count a failed attempt (still answered 401: its password was checked); returns
        when the lock it set ends, if it reached a limit."""
        s = self.settings
        limits = {ACCOUNT: s.login_max_failures, ADDRESS: s.login_max_failures_per_address}
        now = self.clock()

        def count(conn: Connection) -> float | None:
            q.purge(conn, now, s.login_window_seconds)
            locks = [
                q.record_failure(
                    conn,
                    scope,
                    subject,
                    now,
                    s.login_window_seconds,
                    limits[scope],
                    s.login_lockout_seconds,
                )
                for scope, subject in self._keys(email, address)
            ]
            return max((t for t in locks if t is not None), default=None)

        until: float | None = await self.db.write(count)
        return until

    async def succeeded(self, email: str) -> None:
        await self.db.write(q.clear, ACCOUNT, account_key(email))


def _throttled(seconds: float) -> LoginThrottled:
    wait = max(1, math.ceil(seconds))
    return LoginThrottled(
        f"too many failed logins for this account or from this address; retry in {wait} s "
        "(an administrator can lift the lock: appliance users unlock EMAIL)",
        headers={"Retry-After": str(wait)},
    )
