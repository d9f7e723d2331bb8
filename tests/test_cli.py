"""The CLI, run in-process through main() against a real data dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_init_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path / "d")
    code, out = run(capsys, "init", "--data-dir", d, "--json")
    first = json.loads(out)
    assert code == 0 and first["admin_api_key"].startswith("apk_")
    assert first["migrations_applied"][0] == "0001_spine"
    code, out = run(capsys, "--data-dir", d, "init", "--json")
    second = json.loads(out)
    assert second["admin_api_key"] is None and second["migrations_applied"] == []
    assert second["install_id"] == first["install_id"]


def test_users_and_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path / "d")
    code, out = run(
        capsys, "users", "create", "cli@example.com", "--credits", "7", "--json", "--data-dir", d
    )
    created = json.loads(out)
    assert code == 0
    assert {"id", "email", "api_key"} <= set(created) and created["quota_remaining"] == 7
    assert main(["users", "create", "cli@example.com", "--data-dir", d]) == 2
    assert "exists" in capsys.readouterr().err
    code, out = run(capsys, "users", "list", "--json", "--data-dir", d)
    emails = [json.loads(line)["email"] for line in out.splitlines()]
    assert emails == ["admin@localhost", "cli@example.com"]
    code, out = run(capsys, "keys", "create", "cli@example.com", "--json", "--data-dir", d)
    key = json.loads(out)
    assert key["api_key"].startswith("apk_")
    code, out = run(capsys, "keys", "revoke", str(key["id"]), "--data-dir", d)
    assert code == 0 and "revoked" in out
    assert main(["keys", "create", "nobody@example.com", "--data-dir", d]) == 2
    assert main(["keys", "revoke", "9999", "--data-dir", d]) == 2


def test_config_show_and_db_optimize(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    d = str(tmp_path / "d")
    monkeypatch.setenv("APPLIANCE_TOKEN_SECRET", "hunter2hunter2")
    monkeypatch.setenv("APPLIANCE_PORT", "8123")
    code, out = run(capsys, "config", "show", "--data-dir", d)
    shown = json.loads(out)
    assert shown["port"] == 8123 and shown["token_secret"] == "********"
    assert "hunter2" not in out
    code, out = run(capsys, "db", "optimize", "--data-dir", d)
    assert code == 0 and json.loads(out)["optimized"] is True
