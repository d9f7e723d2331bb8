"""Configuration that refuses mistakes, and data dirs that are never created by accident.

The traps of issue 15, through the CLI's entry point: each mistake is one line on stderr
naming the setting, where it came from and what is wrong, exit 2, and nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.billing import licenses
from appliance.cli import main
from appliance.settings import load_settings
from tests.helpers import init_dir


def fails(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 2) -> str:
    """Run the CLI, expect ``code`` and exactly one error line; return that line."""
    assert main(list(argv)) == code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_a_command_in_the_wrong_directory_refuses_instead_of_creating_an_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = init_dir(capsys, tmp_path / "home" / "data")  # the operator's real install
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    line = fails(capsys, "users", "list")
    assert str(elsewhere / "data") in line and "default" in line and str(elsewhere) in line
    assert not (elsewhere / "data").exists(), "nothing created where the command ran"
    # A mistyped --data-dir, APPLIANCE_DATA_DIR or config file entry: named as such.
    line = fails(capsys, "users", "list", "--data-dir", str(tmp_path / "hmoe"))
    assert "flag --data-dir" in line and "hmoe" in line
    monkeypatch.setenv("APPLIANCE_DATA_DIR", str(tmp_path / "typo"))
    assert "environment APPLIANCE_DATA_DIR" in fails(capsys, "credits", "show", "a@b.c")
    monkeypatch.delenv("APPLIANCE_DATA_DIR")
    cfg = tmp_path / "a.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "other"}"\n')
    assert f"config file {cfg}" in fails(capsys, "--config", str(cfg), "filings", "list")
    assert not (tmp_path / "typo").exists() and not (tmp_path / "other").exists()
    # The right one works, and config show (which opens no database) runs anywhere.
    assert main(["users", "list", "--json", "--data-dir", home]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["email"] == "admin@localhost"
    assert main(["config", "show"]) == 0


def test_typos_are_errors_with_a_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text("prot = 9000\n")
    line = fails(capsys, "--config", str(cfg), "config", "show")
    assert "'prot'" in line and str(cfg) in line and "did you mean 'port'" in line
    monkeypatch.setenv("APPLIANCE_PROT", "9000")
    line = fails(capsys, "config", "show")
    assert "APPLIANCE_PROT" in line and "did you mean APPLIANCE_PORT" in line
    # unknown_settings = "warn": the command runs and the typo is a warning.
    monkeypatch.setenv("APPLIANCE_UNKNOWN_SETTINGS", "warn")
    assert main(["config", "show", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["settings"]["port"] == 8000
    assert "APPLIANCE_PROT" in captured.err and "did you mean APPLIANCE_PORT" in captured.err


def test_the_test_suites_own_variables_are_not_typos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI exports these for `make test`; every command (and the tests' own servers) must still
    load its settings."""
    for name, value in [
        ("APPLIANCE_BROWSER_REQUIRED", "1"),
        ("APPLIANCE_CHROMIUM", "/usr/bin/chromium"),
        ("APPLIANCE_TEST_POSTGRES", "required"),
    ]:
        monkeypatch.setenv(name, value)
    assert load_settings(data_dir=tmp_path).port == 8000


@pytest.mark.parametrize(
    ("where", "text", "expected"),
    [
        ("env", "abc", ["port = 'abc'", "environment APPLIANCE_PORT", "valid integer"]),
        ("env", "70000", ["port = '70000'", "less than or equal to 65535"]),
        ("file", "port = 'x'\n", ["port = 'x'", "config file"]),
        ("file", "port = \n", ["not valid TOML", "line 1"]),
        ("file", "log_level = 'loud'\n", ["log_level = 'loud'", "'debug', 'info'"]),
    ],
)
def test_a_bad_value_is_one_line_naming_field_source_and_problem(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    text: str,
    expected: list[str],
) -> None:
    argv = ["config", "show"]
    if where == "env":
        monkeypatch.setenv("APPLIANCE_PORT", text)
    else:
        cfg = tmp_path / "c.toml"
        cfg.write_text(text)
        argv = ["--config", str(cfg), *argv]
    line = fails(capsys, *argv)
    for part in expected:
        assert part in line, line
    # serve refuses the same way, before touching anything.
    data = tmp_path / "d"
    fails(capsys, *argv[:-2], "serve", "--data-dir", str(data))
    assert not data.exists()


def test_structured_and_secret_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPLIANCE_CREDIT_PACKS", "{not json")
    assert "credit_packs" in fails(capsys, "config", "show")
    monkeypatch.setenv("APPLIANCE_CREDIT_PACKS", '{"big": {"credits": 500, "amount_cents": 0}}')
    line = fails(capsys, "config", "show")
    assert "credit_packs" in line and "big.amount_cents" in line
    monkeypatch.delenv("APPLIANCE_CREDIT_PACKS")
    cfg = tmp_path / "s.toml"
    cfg.write_text("stripe_secret_key = 4242424242\n")
    line = fails(capsys, "--config", str(cfg), "config", "show")
    assert "stripe_secret_key = '********'" in line and "4242" not in line


def test_license_keys_accept_what_people_paste(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a = licenses.keygen(tmp_path / "a")
    b = licenses.keygen(tmp_path / "b")
    assert main(["license", "keygen", "--out", str(tmp_path / "c")]) == 0
    printed = [
        line for line in capsys.readouterr().out.splitlines() if "license_public_keys =" in line
    ]
    c = (tmp_path / "c" / licenses.PUBLIC_KEY_FILE).read_text().strip()
    forms = {
        printed[0]: [c],  # the exact line `license keygen` printed, indentation and all
        f"{a.public_entry},{b.public_entry}": [a.public_entry, b.public_entry],
        f"{a.public_entry}\n{b.public_entry}\n": [a.public_entry, b.public_entry],
        json.dumps([a.public_entry]): [a.public_entry],
        a.public_entry: [a.public_entry],
    }
    for pasted, keys in forms.items():
        monkeypatch.setenv("APPLIANCE_LICENSE_PUBLIC_KEYS", pasted)
        assert load_settings().license_public_keys == keys, pasted
    cfg = tmp_path / "k.toml"
    cfg.write_text(f'license_public_keys = "{a.public_entry}, {b.public_entry}"\n')
    monkeypatch.delenv("APPLIANCE_LICENSE_PUBLIC_KEYS")
    assert load_settings(cfg).license_public_keys == [a.public_entry, b.public_entry]
    monkeypatch.setenv("APPLIANCE_LICENSE_PUBLIC_KEYS", "kid:not-base64!")
    assert "license_public_keys" in fails(capsys, "config", "show")


def test_config_show_says_where_each_value_came_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('admin_email = "ops@example.com"\n')
    monkeypatch.setenv("APPLIANCE_PORT", "9123")
    monkeypatch.setenv("APPLIANCE_STRIPE_SECRET_KEY", "sk_test_abcdefghijkl")
    argv = ["--config", str(cfg), "config", "show"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    lines = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert "9123" in lines["port"] and "environment APPLIANCE_PORT" in lines["port"]
    assert "ops@example.com" in lines["admin_email"] and "config file" in lines["admin_email"]
    assert "[default]" in lines["db_readers"]
    assert "sk_test" not in text and "********" in lines["stripe_secret_key"]
    # URLs derived from host and port follow them (the trap: port 8000 kept in the URL).
    assert "127.0.0.1:9123/?checkout=success" in lines["checkout_success_url"]
    assert "derived from host and port" in lines["checkout_success_url"]
    assert main([*argv, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config_file"] == str(cfg)
    assert shown["sources"]["port"] == "environment APPLIANCE_PORT"
    assert shown["settings"]["checkout_cancel_url"] == "http://127.0.0.1:9123/?checkout=cancelled"
    # Set explicitly, a URL is kept as given; a wildcard bind links to loopback.
    assert load_settings(
        port=9000, checkout_success_url="https://x.example/ok"
    ).checkout_success_url == ("https://x.example/ok")
    assert load_settings(host="0.0.0.0", port=9001).checkout_cancel_url.startswith(
        "http://127.0.0.1:9001/"
    )
