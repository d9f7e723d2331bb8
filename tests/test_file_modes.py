"""Only the data dir's owner can read it: modes at creation, repair, refusal, the token secret."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from appliance import file_modes, token_secret
from appliance.app import create_app
from appliance.auth import issue_token
from appliance.bootstrap import initialize
from appliance.cli import main as cli_main
from appliance.db.backup import backup_to
from appliance.db.connection import connect
from appliance.instance import InstanceLock
from appliance.settings import Settings, load_settings
from tests.helpers import auth, make_user
from tests.support.live import live_server

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The widest umask a careless environment could have: files 0666, dirs 0777."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def private_files(data_dir: Path) -> list[Path]:
    return [
        p
        for p in data_dir.rglob("*")
        if p.is_file() and (p.suffix in {".sqlite3", ".lock"} or "sqlite3-" in p.name)
    ]


def test_a_new_install_is_private_whatever_the_umask(tmp_path: Path, loose_umask: None) -> None:
    settings = load_settings(data_dir=tmp_path / "data", load_models=False, access_log=False)
    initialize(settings)
    lock = InstanceLock(settings.data_dir)
    lock.acquire()
    try:
        conn = connect(settings.db_path)  # a live connection keeps the -wal and -shm files
        try:
            conn.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
            backup = backup_to(conn, settings.data_dir / "backups" / "b.sqlite3")
            wal = settings.data_dir / "appliance.sqlite3-wal"
            shm = settings.data_dir / "appliance.sqlite3-shm"
            assert wal.exists() and shm.exists()
            assert mode(settings.data_dir) == 0o700
            assert mode(settings.data_dir / "inbox") == 0o700
            assert mode(settings.data_dir / "backups") == 0o700
            assert mode(settings.data_dir / "secrets") == 0o700
            for path in (
                settings.db_path,
                wal,
                shm,
                backup,
                settings.data_dir / "serve.lock",
                token_secret.secret_path(settings.data_dir),
            ):
                assert mode(path) == 0o600, path
        finally:
            conn.close()
    finally:
        lock.release()


def test_an_existing_install_is_repaired_at_start_and_logged_once(
    settings: Settings, admin_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = settings.data_dir
    conn = connect(settings.db_path)
    backup_to(conn, data_dir / "backups" / "old.sqlite3")
    conn.close()
    # What the first version left behind: 0755 dirs and 0644 files.
    for path in [data_dir, data_dir / "backups", data_dir / "secrets"]:
        os.chmod(path, 0o755)
    files = [
        *private_files(data_dir),
        token_secret.secret_path(data_dir),
        data_dir / "backups" / "old.sqlite3",
    ]
    for path in files:
        os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="appliance.files"):
        initialize(settings)
    repaired = [r for r in caplog.records if "repaired file modes" in r.getMessage()]
    assert len(repaired) == 1 and str(data_dir) in repaired[0].getMessage()
    assert mode(data_dir) == 0o700 and mode(data_dir / "backups") == 0o700
    for path in files:
        assert mode(path) == 0o600, path
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="appliance.files"):
        initialize(settings)
    assert not [r for r in caplog.records if "repaired" in r.getMessage()]


def test_a_stricter_mode_is_left_alone(settings: Settings, admin_key: str) -> None:
    os.chmod(settings.db_path, 0o400)
    try:
        assert file_modes.secure_data_dir(settings.data_dir) == []
        assert mode(settings.db_path) == 0o400
    finally:
        os.chmod(settings.db_path, 0o600)


def test_refuses_a_data_dir_others_can_read_when_it_cannot_be_fixed(
    settings: Settings,
    admin_key: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    os.chmod(settings.data_dir, 0o777)

    def refused(path: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted", str(path))

    # What chmod does on a data dir owned by another user.
    monkeypatch.setattr(file_modes.os, "chmod", refused)
    with pytest.raises(file_modes.DataDirInsecure, match="chmod 700"):
        initialize(settings)
    code = cli_main(["--data-dir", str(settings.data_dir), "users", "list"])
    err = capsys.readouterr().err
    assert code != 0 and "refusing to use data dir" in err and "Traceback" not in err
    monkeypatch.undo()
    os.chmod(settings.data_dir, 0o700)


def test_the_token_secret_lives_in_a_private_file_not_the_database(
    settings: Settings, admin_key: str
) -> None:
    secret = token_secret.secret_path(settings.data_dir).read_bytes().strip()
    assert len(secret) == 64
    conn = connect(settings.db_path)
    try:
        assert conn.execute("SELECT value FROM meta WHERE key = 'token_secret'").fetchone() is None
        backup = backup_to(conn, settings.data_dir / "backups" / "copy.sqlite3")
    finally:
        conn.close()
    assert secret not in backup.read_bytes()
    assert secret not in settings.db_path.read_bytes()


def test_an_old_install_keeps_its_tokens_when_the_secret_moves_out(
    settings: Settings, admin_key: str
) -> None:
    # An install from before: the secret in the meta table, no file.
    legacy = "ab" * 32
    token_secret.secret_path(settings.data_dir).unlink()
    conn = connect(settings.db_path)
    conn.execute("INSERT INTO meta (key, value) VALUES ('token_secret', ?)", (legacy,))
    conn.close()
    initialize(settings)
    assert token_secret.secret_path(settings.data_dir).read_text() == legacy
    conn = connect(settings.db_path)
    assert conn.execute("SELECT 1 FROM meta WHERE key = 'token_secret'").fetchone() is None
    conn.close()
    with TestClient(create_app(settings)) as client:
        user = make_user(client, admin_key, "old@example.com")
        issued_before = issue_token(legacy.encode(), user["id"], 600)
        assert client.get("/v1/me", headers=auth(issued_before)).status_code == 200


def test_rotating_the_secret_refuses_earlier_tokens_in_a_running_server(
    settings: Settings, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(token_secret, "RELOAD_SECONDS", 0.0)
    with TestClient(create_app(settings)) as client:
        user = make_user(client, admin_key, "rot@example.com")
        before = issue_token(client.app.state.ctx.auth.token_secret, user["id"], 600)  # type: ignore[attr-defined]
        assert client.get("/v1/me", headers=auth(before)).status_code == 200
        time.sleep(0.01)  # a distinct mtime for the rewritten file
        assert cli_main(["--data-dir", str(settings.data_dir), "admin", "rotate-secret"]) == 0
        r = client.get("/v1/me", headers=auth(before))
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        after = issue_token(client.app.state.ctx.auth.token_secret, user["id"], 600)  # type: ignore[attr-defined]
        assert after != before
        assert client.get("/v1/me", headers=auth(after)).status_code == 200
        # API keys do not depend on the signing secret.
        assert client.get("/v1/me", headers=auth(admin_key)).status_code == 200
    assert mode(token_secret.secret_path(settings.data_dir)) == 0o600


def test_rotate_secret_refuses_when_the_secret_is_a_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPLIANCE_TOKEN_SECRET", "from-the-environment")
    code = cli_main(["--data-dir", str(tmp_path / "data"), "admin", "rotate-secret"])
    assert code == 2 and "token_secret setting" in capsys.readouterr().err


def test_a_real_server_started_under_umask_000_leaves_nothing_readable(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with contextlib.ExitStack() as stack:
        old = os.umask(0)  # inherited by the server process live_server starts
        try:
            server = stack.enter_context(live_server(data_dir, APPLIANCE_LOAD_MODELS="false"))
        finally:
            os.umask(old)
        status, _, _ = server.request(
            "POST", "/v1/users", {"email": "u@example.com"}, key=server.admin_key
        )
        assert status == 201
        assert (data_dir / "appliance.sqlite3-wal").exists()
        running = [p for p in data_dir.rglob("*") if mode(p) & 0o077]
        assert not running, [(str(p), oct(mode(p))) for p in running]
    assert mode(data_dir) == 0o700
