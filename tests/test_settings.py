"""Settings precedence: defaults < config file < APPLIANCE_* env < CLI flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.settings import load_settings, masked


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text('port = 9001\nlog_level = "warning"\nadmin_email = "file@x.y"\n')
    s = load_settings(cfg)
    assert (s.port, s.log_level, s.admin_email, s.host) == (
        9001,
        "warning",
        "file@x.y",
        "127.0.0.1",
    )
    monkeypatch.setenv("APPLIANCE_PORT", "9002")
    monkeypatch.setenv("APPLIANCE_LOG_LEVEL", "error")
    s = load_settings(cfg)
    assert (s.port, s.log_level, s.admin_email) == (9002, "error", "file@x.y")
    s = load_settings(cfg, port=9003, data_dir=None)
    assert s.port == 9003 and s.log_level == "error"
    assert s.data_dir == Path("data")


def test_config_file_from_env_and_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "b.toml"
    cfg.write_text("port = 7007\n")
    monkeypatch.setenv("APPLIANCE_CONFIG", str(cfg))
    assert load_settings().port == 7007
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.toml")


def test_invalid_values_are_rejected(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("port = 70000\n")
    with pytest.raises(ValueError, match="port"):
        load_settings(cfg)


def test_secrets_are_masked() -> None:
    s = load_settings(token_secret="supersecret")
    shown = masked(s)
    assert shown["token_secret"] == "********"
    assert "supersecret" not in str(shown)
