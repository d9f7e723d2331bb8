"""The CLI, run in-process through main() against a real data dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.cli import main
from tests.helpers import init_dir, run_cli


def test_init_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path / "d")
    code, out = run_cli(capsys, "init", "--data-dir", d, "--json")
    first = json.loads(out)
    assert code == 0 and first["admin_api_key"].startswith("apk_")
    assert first["migrations_applied"][0] == "0001_spine"
    code, out = run_cli(capsys, "--data-dir", d, "init", "--json")
    second = json.loads(out)
    assert second["admin_api_key"] is None and second["migrations_applied"] == []
    assert second["install_id"] == first["install_id"]


def test_users_and_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = init_dir(capsys, tmp_path / "d")
    code, out = run_cli(
        capsys, "users", "create", "cli@example.com", "--credits", "7", "--json", "--data-dir", d
    )
    created = json.loads(out)
    assert code == 0
    assert {"id", "email", "api_key"} <= set(created) and created["purchased"] == 7
    assert main(["users", "create", "cli@example.com", "--data-dir", d]) == 2
    assert "exists" in capsys.readouterr().err
    code, out = run_cli(capsys, "users", "list", "--json", "--data-dir", d)
    emails = [json.loads(line)["email"] for line in out.splitlines()]
    assert emails == ["admin@localhost", "cli@example.com"]
    code, out = run_cli(capsys, "keys", "create", "cli@example.com", "--json", "--data-dir", d)
    key = json.loads(out)
    assert key["api_key"].startswith("apk_")
    code, out = run_cli(capsys, "keys", "revoke", str(key["id"]), "--data-dir", d)
    assert code == 0 and "revoked" in out
    assert main(["keys", "create", "nobody@example.com", "--data-dir", d]) == 3
    assert main(["keys", "revoke", "9999", "--data-dir", d]) == 3


def test_config_show_and_db_optimize(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    d = init_dir(capsys, tmp_path / "d")
    monkeypatch.setenv("APPLIANCE_TOKEN_SECRET", "hunter2hunter2")
    monkeypatch.setenv("APPLIANCE_PORT", "8123")
    code, out = run_cli(capsys, "config", "show", "--json", "--data-dir", d)
    shown = json.loads(out)["settings"]
    assert shown["port"] == 8123 and shown["token_secret"] == "********"
    assert "hunter2" not in out
    code, out = run_cli(capsys, "db", "optimize", "--json", "--data-dir", d)
    assert code == 0 and json.loads(out)["optimized"] is True


def test_backup_is_a_consistent_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = init_dir(capsys, tmp_path / "d")
    run_cli(capsys, "users", "create", "bk@example.com", "--data-dir", d)
    out_file = tmp_path / "copy.sqlite3"
    code, out = run_cli(capsys, "backup", "--out", str(out_file), "--data-dir", d)
    assert code == 0 and "backup written" in out
    import sqlean

    copy = sqlean.connect(str(out_file))
    emails = {r[0] for r in copy.execute("SELECT email FROM users")}
    copy.close()
    assert emails == {"admin@localhost", "bk@example.com"}
    # Never overwrites.
    assert main(["backup", "--out", str(out_file), "--data-dir", d]) == 2


def test_upgrade_takes_a_backup_before_migrating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from appliance.db.connection import connect
    from appliance.db.migrate import migrate
    from appliance.paths import migrations_dir

    # An install from the first release: only the spine's migration applied.
    old = tmp_path / "old-migrations"
    old.mkdir()
    shutil.copy(migrations_dir() / "0001_spine.sql", old)
    d = tmp_path / "d"
    d.mkdir()
    conn = connect(d / "appliance.sqlite3")
    migrate(conn, old)
    conn.close()
    code, out = run_cli(capsys, "init", "--json", "--data-dir", str(d))
    result = json.loads(out)
    assert code == 0 and result["migrations_applied"][0] == "0002_billing"
    backup = Path(result["backup"])
    assert backup.parent == d / "backups" and "pre-0002_billing" in backup.name
    import sqlean

    copy = sqlean.connect(str(backup))
    names = [r[0] for r in copy.execute("SELECT name FROM schema_migrations")]
    copy.close()
    assert names == ["0001_spine"]  # the copy is the database as it was before the upgrade
