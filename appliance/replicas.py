"""Several replicas on one PostgreSQL: each one's presence, and recovery after one dies.

On SQLite one process serves a data dir (``instance.py``), and at start-up it refunds every
charge a previous run left unfinished. With replicas, "unfinished" may mean "in flight on a
live replica", so the lock becomes per database and covers recovery only:

- :class:`Presence`: this replica's row in ``replicas``, alive while it holds a session
  advisory lock on a connection of its own. PostgreSQL drops the lock the moment the process
  (``kill -9`` included) or that connection dies: no clocks, no heartbeats to tune.
- Recovery (:func:`recover`), under one advisory lock so only one replica recovers at a time:
  prune the replicas whose lock is free, refund the unfinished charges they made (each charge
  records its replica), put their running indexing jobs back in the queue. It runs at start-up
  before serving (``Billing.start``) and every ``replica_sweep_seconds`` on every replica
  (:class:`Sweeper`), so a replica that dies and never returns is cleaned up by the others.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from appliance.billing import quota
from appliance.db.connection import Connection
from appliance.db.database import Database
from appliance.db.queries import jobs as jq
from appliance.db.queries import replicas as rq
from appliance.errors import ApplianceError
from appliance.settings import Settings

if TYPE_CHECKING:
    from appliance.billing.shared_ratelimit import SharedRateLimiter

__all__ = [
    "NeedsSharedSecret",
    "Presence",
    "Recovered",
    "ReplicaServices",
    "Sweeper",
    "check_settings",
    "recover",
]

log = logging.getLogger("appliance.replicas")


class Presence:
    """This replica's registration, held by a session advisory lock for the process's life."""

    def __init__(self, url: str, replica_id: str) -> None:
        self.url = url
        self.replica_id = replica_id
        self.lock_key = secrets.randbits(62) + 1
        self._raw: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self._connect()

    def _connect(self) -> None:
        from appliance.db.postgres.connection import as_connection, connect

        raw = connect(self.url, application_name=f"appliance {self.replica_id[:8]} presence")
        conn = as_connection(raw)
        # The lock first: a replica with a row but no lock yet would look dead.
        rq.hold(conn, self.lock_key)
        rq.register(conn, self.replica_id, self.lock_key, socket.gethostname(), os.getpid())
        self._raw = raw

    def ensure(self) -> None:
        """Reconnect and register again if the presence connection was lost (meanwhile other
        replicas may have taken this one for dead and refunded its requests in flight: those
        are answered for free, never charged twice)."""
        with self._lock:
            if self._raw is not None and not self._raw.closed:
                try:
                    self._raw.execute("SELECT 1")
                    return
                except Exception:
                    log.warning("replica presence connection lost; registering again")
            self._connect()

    def stop(self) -> None:
        with self._lock:
            if self._raw is None:
                return
            from appliance.db.postgres.connection import as_connection

            try:
                rq.unregister(as_connection(self._raw), self.replica_id)
            except Exception:
                log.exception("could not unregister the replica (its lock ends with it anyway)")
            finally:
                self._raw.close()
                self._raw = None


@dataclass(frozen=True)
class Recovered:
    dead: list[str]
    refunded: list[int]
    requeued: int


def recover(conn: Connection, *, wait: bool) -> Recovered | None:
    """Write function: clean up after replicas that are gone (see the module docstring).
    Without ``wait``, returns None when another replica is recovering right now."""
    if not rq.recovery_lock(conn, wait=wait):
        return None
    dead = rq.prune_dead(conn)
    refunded = quota.refund_interrupted(conn)
    requeued = jq.requeue_interrupted(conn)
    return Recovered(dead, refunded, requeued)


class Sweeper:
    """Runs :func:`recover` every ``interval`` seconds on a daemon thread, and keeps this
    replica's presence registered."""

    def __init__(self, db: Database, presence: Presence, interval: float) -> None:
        self.db = db
        self.presence = presence
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="replica-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _main(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.presence.ensure()
                done = self.db.sync.write(recover, wait=False)
            except Exception:
                log.exception("replica recovery sweep failed; trying again later")
                continue
            if done is not None and (done.dead or done.refunded or done.requeued):
                log.warning(
                    "replicas gone: %s; refunded %d unfinished charges, re-queued %d jobs",
                    ", ".join(done.dead) or "none",
                    len(done.refunded),
                    done.requeued,
                )


class NeedsSharedSecret(ApplianceError):
    status = 400
    code = "invalid_config"


def check_settings(settings: Settings) -> None:
    """Refuse what cannot work across replicas. Access tokens are signed with the token
    secret; each replica's data dir is its own, so replicas must be given the same one."""
    if settings.database_url and settings.token_secret is None:
        raise NeedsSharedSecret(
            "database_url is PostgreSQL: set token_secret (env APPLIANCE_TOKEN_SECRET) to the"
            " same value on every replica, so that an access token issued by one is accepted"
            " by all (see README 'Running several replicas')"
        )


@dataclass
class ReplicaServices:
    """What a replica runs beside the app: its presence, the shared rate limiter and the
    recovery sweeper. Started by the app's lifespan when ``database_url`` is set."""

    presence: Presence
    limiter: SharedRateLimiter
    sweeper: Sweeper

    @classmethod
    def start(cls, settings: Settings, db: Database) -> ReplicaServices:
        """Register this replica (before it charges anything) and open the shared limiter;
        :meth:`sweep` starts the periodic recovery once start-up recovery has run."""
        from appliance.billing.shared_ratelimit import SharedRateLimiter

        check_settings(settings)
        assert settings.database_url
        presence = Presence(settings.database_url, db.replica_id)
        presence.start()
        limiter = SharedRateLimiter(
            settings.database_url, settings.rate_limit_per_second, settings.rate_limit_burst
        )
        limiter.start()
        return cls(presence, limiter, Sweeper(db, presence, settings.replica_sweep_seconds))

    def sweep(self) -> None:
        self.sweeper.start()

    def stop(self) -> None:
        """Before the database closes: no more sweeps or rate-limit takes."""
        self.sweeper.stop()
        self.limiter.close()

    def leave(self) -> None:
        """After the database closed (every write of this replica flushed): unregister."""
        self.presence.stop()
