"""The operator's commands against a real data dir, their effects checked on the real app:
users disable/enable/delete/reset-password, keys list, admin reset-key, backup --keep, restore,
one balance everywhere, and the 402 that names only this install's top-ups."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from appliance.app import create_app
from appliance.billing import licenses
from appliance.cli import main
from appliance.db.connection import connect
from appliance.settings import Settings, load_settings
from tests.helpers import auth


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = cli(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    d = tmp_path / "data"
    assert main(["init", "--json", "--data-dir", str(d)]) == 0
    capsys.readouterr()
    return d


def app_settings(data_dir: Path, **extra: Any) -> Settings:
    # No key cache: what the CLI changes applies to the next request.
    return load_settings(
        data_dir=data_dir, load_models=False, access_log=False, auth_cache_seconds=0, **extra
    )


@pytest.fixture
def app(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings(data_dir, echo_endpoint=True))) as c:
        yield c


def token(app: TestClient, email: str, password: str) -> tuple[int, str | None]:
    r = app.post("/auth/token", json={"email": email, "password": password})
    return r.status_code, r.json().get("access_token")


def test_disable_enable_reset_password_and_keys_list(
    data_dir: Path, app: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(data_dir)
    user = cli_json(
        capsys, "users", "create", "u@x.io", "--password", "first-pass", "--data-dir", d
    )
    key = user["api_key"]
    status, old_token = token(app, "u@x.io", "first-pass")
    assert status == 200 and app.get("/v1/me", headers=auth(old_token or "")).status_code == 200

    assert cli_json(capsys, "users", "disable", "u@x.io", "--data-dir", d)["changed"] is True
    assert app.get("/v1/me", headers=auth(key)).status_code == 401
    assert app.get("/v1/me", headers=auth(old_token or "")).status_code == 401
    assert token(app, "u@x.io", "first-pass")[0] == 401
    code, out, _ = cli(capsys, "users", "disable", "u@x.io", "--data-dir", d)
    assert code == 0 and "already disabled" in out
    # The last administrator who can sign in cannot be disabled or deleted.
    code, _, err = cli(capsys, "users", "disable", "admin@localhost", "--data-dir", d)
    assert code == 2 and "last administrator" in err
    code, _, err = cli(capsys, "users", "delete", "admin@localhost", "--data-dir", d)
    assert code == 2 and "last administrator" in err

    assert cli_json(capsys, "users", "enable", "u@x.io", "--data-dir", d)["disabled"] is False
    assert app.get("/v1/me", headers=auth(key)).status_code == 200
    # A disable ended the sessions it found: the old token stays refused after enabling.
    assert app.get("/v1/me", headers=auth(old_token or "")).status_code == 401

    reset = cli_json(capsys, "users", "reset-password", "u@x.io", "--data-dir", d)
    new_password = reset["password"]
    assert len(new_password) >= 16
    assert token(app, "u@x.io", "first-pass")[0] == 401
    status, new_token = token(app, "u@x.io", new_password)
    assert status == 200 and app.get("/v1/me", headers=auth(new_token or "")).status_code == 200
    code, _, err = cli(
        capsys, "users", "reset-password", "u@x.io", "--password", "short", "--data-dir", d
    )
    assert code == 2 and "at least 8" in err
    code, _, err = cli(capsys, "users", "reset-password", "nobody@x.io", "--data-dir", d)
    assert code == 3 and "no user" in err

    code, out, _ = cli(capsys, "keys", "list", "--json", "--data-dir", d)
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(k["email"], k["revoked"]) for k in listed] == [
        ("admin@localhost", False),
        ("u@x.io", False),
    ]
    assert key not in out and "api_key" not in listed[1]
    code, out, _ = cli(capsys, "keys", "list", "u@x.io", "--data-dir", d)
    assert code == 0 and f"apk_{key.split('_')[1]}_..." in out and key not in out
    revoked = cli_json(capsys, "keys", "revoke", str(listed[1]["id"]), "--data-dir", d)
    assert revoked["revoked"] is True
    assert app.get("/v1/me", headers=auth(key)).status_code == 401


def test_delete_keeps_money_history_unless_purged(
    data_dir: Path, app: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(data_dir)
    fresh = cli_json(capsys, "users", "create", "fresh@x.io", "--data-dir", d)
    paying = cli_json(capsys, "users", "create", "paying@x.io", "--data-dir", d)
    assert (
        app.post("/v1/echo", json={"text": "hi"}, headers=auth(paying["api_key"])).status_code
        == 200
    )
    assert cli_json(capsys, "users", "delete", "fresh@x.io", "--data-dir", d)["id"] == fresh["id"]
    code, _, err = cli(capsys, "users", "delete", "paying@x.io", "--data-dir", d)
    assert code == 2 and "1 usage events" in err and "--purge" in err
    assert app.get("/v1/me", headers=auth(paying["api_key"])).status_code == 200
    gone = cli_json(capsys, "users", "delete", "paying@x.io", "--purge", "--data-dir", d)
    assert gone["usage_events"] == 1
    assert app.get("/v1/me", headers=auth(paying["api_key"])).status_code == 401
    code, _, _ = cli(capsys, "users", "delete", "paying@x.io", "--data-dir", d)
    assert code == 3


def test_admin_reset_key_for_a_lost_admin_key(
    data_dir: Path, app: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(data_dir)
    first = cli_json(capsys, "admin", "reset-key", "--data-dir", d)
    assert first["email"] == "admin@localhost"
    assert app.get("/v1/me", headers=auth(first["api_key"])).json()["is_admin"] is True
    second = cli_json(capsys, "admin", "reset-key", "--revoke-others", "--data-dir", d)
    assert app.get("/v1/me", headers=auth(second["api_key"])).status_code == 200
    assert app.get("/v1/me", headers=auth(first["api_key"])).status_code == 401
    cli_json(capsys, "users", "create", "plain@x.io", "--data-dir", d)
    code, _, err = cli(capsys, "admin", "reset-key", "--email", "plain@x.io", "--data-dir", d)
    assert code == 2 and "not an administrator" in err


def test_one_balance_everywhere(
    data_dir: Path, app: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(data_dir)
    user = cli_json(capsys, "users", "create", "b@x.io", "--credits", "5", "--data-dir", d)
    for _ in range(3):
        assert (
            app.post("/v1/echo", json={"text": "x"}, headers=auth(user["api_key"])).status_code
            == 200
        )
    names = (
        "remaining",
        "allowance_remaining",
        "monthly_allowance",
        "purchased",
        "plan",
        "resets_at",
    )
    quota = app.get("/v1/quota", headers=auth(user["api_key"])).json()
    assert (quota["remaining"], quota["allowance_remaining"], quota["purchased"]) == (12, 7, 5)
    me = app.get("/v1/me", headers=auth(user["api_key"])).json()
    _code, out, _ = cli(capsys, "users", "list", "--json", "--data-dir", d)
    listed = next(json.loads(line) for line in out.splitlines() if "b@x.io" in line)
    shown = cli_json(capsys, "credits", "show", "b@x.io", "--data-dir", d)
    admin_key = cli_json(capsys, "admin", "reset-key", "--data-dir", d)["api_key"]
    api_users = app.get("/v1/users", headers=auth(admin_key)).json()["users"]
    api_listed = next(u for u in api_users if u["email"] == "b@x.io")
    for name in names:
        assert me[name] == listed[name] == shown[name] == api_listed[name] == quota[name], name
    assert "quota_remaining" not in me  # one name per figure
    _code, out, _ = cli(capsys, "users", "list", "--data-dir", d)
    assert "\t12\t7/10\t5" in out
    _code, out, _ = cli(capsys, "credits", "show", "b@x.io", "--data-dir", d)
    assert "12 credits remaining" in out and "7 of the 10 monthly allowance" in out


@pytest.mark.parametrize(
    ("payments", "license_keys", "offered"),
    [
        (False, False, {"operator"}),
        (False, True, {"license", "operator"}),
        (True, True, {"checkout", "license", "operator"}),
    ],
)
def test_a_402_names_the_top_ups_this_install_has(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    payments: bool,
    license_keys: bool,
    offered: set[str],
) -> None:
    extra: dict[str, Any] = {"echo_endpoint": True, "free_monthly_credits": 0}
    if payments:
        extra["stripe_secret_key"] = "sk_test_402message"
    if license_keys:
        extra["license_public_keys"] = [licenses.keygen(tmp_path / "vendor").public_entry]
    user = cli_json(capsys, "users", "create", "poor@x.io", "--data-dir", str(data_dir))
    with TestClient(create_app(app_settings(data_dir, **extra))) as c:
        r = c.post("/v1/echo", json={"text": "x"}, headers=auth(user["api_key"]))
    assert r.status_code == 402
    err = r.json()["error"]
    assert set(err["details"]["top_up"]) == offered
    message = err["message"]
    assert ("/billing/checkout/credits" in message) == payments
    assert ("/billing/licenses/redeem" in message) == license_keys
    assert "operator" in message and "monthly allowance" not in message


def _emails(capsys: pytest.CaptureFixture[str], d: str) -> list[str]:
    _code, out, _ = cli(capsys, "users", "list", "--json", "--data-dir", d)
    return [json.loads(line)["email"] for line in out.splitlines()]


def test_backup_keep_and_restore(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(data_dir)
    cli_json(capsys, "users", "create", "kept@x.io", "--data-dir", d)
    first = Path(cli_json(capsys, "backup", "--data-dir", d)["backup"])
    cli_json(capsys, "users", "create", "later@x.io", "--data-dir", d)
    second = cli_json(capsys, "backup", "--keep", "2", "--data-dir", d)
    assert second["deleted"] == []
    third = cli_json(capsys, "backup", "--keep", "2", "--data-dir", d)
    assert third["deleted"] == [str(first)] and not first.exists()
    assert sorted(p.name for p in (data_dir / "backups").iterdir()) == sorted(
        Path(b["backup"]).name for b in (second, third)
    )
    code, _, err = cli(capsys, "backup", "--keep", "0", "--data-dir", d)
    assert code == 2 and "--keep" in err

    # Restore the second backup over a database that has moved on.
    cli_json(capsys, "users", "create", "gone@x.io", "--data-dir", d)
    code, out, err = cli(capsys, "restore", second["backup"], "--data-dir", d)
    assert code == 0, err
    assert "restoring:" in err  # progress on stderr
    assert _emails(capsys, d) == ["admin@localhost", "kept@x.io", "later@x.io"]
    aside = next((data_dir / "backups").glob("*-before-restore.sqlite3"))
    assert str(aside) in out and stat.S_IMODE(aside.stat().st_mode) == 0o600
    conn = connect(aside)
    try:
        assert conn.execute("SELECT count(*) FROM users WHERE email = 'gone@x.io'").fetchone()[0]
    finally:
        conn.close()
    assert stat.S_IMODE(os.stat(data_dir / "appliance.sqlite3").st_mode) == 0o600
    # And back again: the copy kept aside is itself restorable.
    done = cli_json(capsys, "restore", str(aside), "--data-dir", d)
    assert done["users"] == 4 and "gone@x.io" in _emails(capsys, d)


def test_restore_refuses_bad_files_and_a_running_server(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(data_dir)
    good = Path(cli_json(capsys, "backup", "--data-dir", d)["backup"])
    cli_json(capsys, "users", "create", "stays@x.io", "--data-dir", d)
    text = tmp_path / "notes.txt"
    text.write_text("not a database")
    damaged = tmp_path / "damaged.sqlite3"
    raw = bytearray(good.read_bytes())
    raw[4096 * 2 : 4096 * 2 + 512] = b"\xff" * 512  # a torn page inside a table
    damaged.write_bytes(bytes(raw))
    foreign = tmp_path / "foreign.sqlite3"
    conn = connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    newer = tmp_path / "newer.sqlite3"
    newer.write_bytes(good.read_bytes())
    conn = connect(newer)
    conn.execute("INSERT INTO schema_migrations (name) VALUES ('9999_from_the_future')")
    conn.close()
    for path, why in [
        (text, "not an SQLite database"),
        (damaged, "damaged"),
        (foreign, "not an appliance's"),
        (newer, "newer version"),
        (tmp_path / "missing.sqlite3", "not a file"),
    ]:
        code, _, err = cli(capsys, "restore", str(path), "--data-dir", d)
        assert code == 2 and why in err, (path, err)
    assert "stays@x.io" in _emails(capsys, d)  # nothing was replaced
    assert not list((data_dir / "backups").glob("*-before-restore.sqlite3"))
    # A serving app holds the data dir: restore refuses, the database is untouched.
    with TestClient(create_app(app_settings(data_dir))):
        code, _, err = cli(capsys, "restore", str(good), "--data-dir", d)
    assert code == 2 and "another appliance server" in err
    assert "stays@x.io" in _emails(capsys, d)
