"""A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl in a temp dir, Unix socket only.

One cluster per test session (a second or two to start). Each test that needs a database gets
its own, copied from a template that was migrated once (``CREATE DATABASE ... TEMPLATE``: a
few tens of milliseconds). The app connects as ``appliance``, an ordinary role that owns its
database, as a real install would; the tests' own bookkeeping uses the ``postgres`` superuser.

Run as root (CI), the server runs as the ``postgres`` system user (PostgreSQL refuses root),
through ``runuser``. Durability is off in the test cluster (fsync, synchronous_commit); the
benchmark starts its own cluster with the defaults.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

APP_ROLE = "appliance"
# Replicas share one token secret (appliance/replicas.py); the tests' replicas use this one.
PG_TOKEN_SECRET = "replicas-share-this-token-secret-0123456789"
TEMPLATE = "appliance_template"
# `make test` runs them where PostgreSQL is installed and skips them (with the reason) where
# it is not; CI sets this to "required" so that a missing PostgreSQL fails instead.
REQUIRED = os.environ.get("APPLIANCE_TEST_POSTGRES", "") == "required"


class Unavailable(Exception):
    """PostgreSQL cannot be run here; the message says why."""


def bindir() -> Path:
    """The directory of initdb/pg_ctl: PG_BINDIR, Debian's newest, or the PATH."""
    if os.environ.get("PG_BINDIR"):
        given = Path(os.environ["PG_BINDIR"])
        if not (given / "initdb").exists():
            raise Unavailable(f"PG_BINDIR={given} has no initdb")
        return given
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if debian:
        return Path(debian[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise Unavailable(
        "PostgreSQL is not installed (no initdb): `make postgres` installs it as root with apt"
    )


def _server_user() -> str | None:
    """The system user to run the server as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise Unavailable("running as root and there is no 'postgres' system user") from None
    if shutil.which("runuser") is None:
        raise Unavailable("running as root and `runuser` is missing")
    return "postgres"


@dataclass
class Cluster:
    root: Path
    bin: Path
    user: str | None
    durable: bool = False
    started: bool = field(default=False, init=False)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise Unavailable(f"{args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> None:
        self.socket_dir.mkdir()
        if self.user is not None:
            info = pwd.getpwnam(self.user)
            for path in (self.root, self.socket_dir):
                os.chown(path, info.pw_uid, info.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-instructions",
        )  # fmt: skip
        options = [
            f"-k {self.socket_dir}",
            "-c listen_addresses=''",
            "-c max_connections=300",
            "-c shared_buffers=64MB",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-o", " ".join(options), "-w", "-t", "60", "start",
        )  # fmt: skip
        self.started = True
        self.sql(f"CREATE ROLE {APP_ROLE} LOGIN")

    def stop(self) -> None:
        if self.started:
            with contextlib.suppress(Unavailable, subprocess.TimeoutExpired):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str, user: str = APP_ROLE) -> str:
        return f"postgresql://{user}@/{database}?host={self.socket_dir}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        """One statement as the superuser, outside a transaction (CREATE DATABASE...)."""
        import psycopg

        with psycopg.connect(self.url(database, "postgres"), autocommit=True) as conn:
            conn.execute(statement.encode())

    def create_database(self, name: str, template: str | None = None) -> str:
        like = f" TEMPLATE {template}" if template else ""
        self.sql(f"CREATE DATABASE {name} OWNER {APP_ROLE}{like}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def cluster(*, durable: bool = False) -> Iterator[Cluster]:
    """A started cluster, removed afterwards. Raises Unavailable with the reason."""
    found = bindir()
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="appliance-pg-"))
    pg = Cluster(root, found, user, durable)
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()


def migrated_template(pg: Cluster) -> str:
    """Create the template database with every migration applied; returns its name."""
    from appliance.db.migrate import migrate
    from appliance.db.postgres.database import PgSession

    pg.create_database(TEMPLATE)
    session = PgSession(pg.url(TEMPLATE))
    try:
        migrate(session.conn)
    finally:
        session.close()
    return TEMPLATE
