"""Damaged database files: refused at start with the way out, found by db check --full, never
backed up as if sound; a 0-byte file is not a new install."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.db.connection import connect, transaction
from tests.helpers import run_cli

pytestmark = pytest.mark.no_db_check  # these tests damage databases on purpose


def _install(tmp_path: Path, capsys: pytest.CaptureFixture[str], users: int = 60) -> Path:
    """A data dir whose database spans enough pages to damage some in the middle."""
    d = tmp_path / "d"
    assert run_cli(capsys, "init", "--data-dir", str(d))[0] == 0
    conn = connect(d / "appliance.sqlite3")
    with transaction(conn):
        for i in range(users):
            conn.execute(
                "INSERT INTO users (email, password_hash) VALUES (?, ?)",
                (f"u{i}@example.com", "x" * 3000),
            )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return d


def _damage(db: Path, pages: range) -> None:
    page = 4096
    with open(db, "r+b") as f:
        for n in pages:
            f.seek(n * page)
            f.write(os.urandom(page))


def test_a_damaged_database_is_refused_with_the_way_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _install(tmp_path, capsys)
    db = d / "appliance.sqlite3"
    assert run_cli(capsys, "db", "check", "--full", "--data-dir", str(d))[0] == 0
    _damage(db, range(3, 12))
    for argv in (["init"], ["users", "list"], ["serve", "--port", "0"]):
        code = main([*argv, "--data-dir", str(d)])
        err = capsys.readouterr().err
        assert code == 1, argv
        assert err.startswith("error: the database") and "damaged" in err, err
        assert "appliance restore" in err and err.count("\n") == 1
    assert main(["db", "check", "--full", "--data-dir", str(d)]) == 1
    assert "sqlite:" in capsys.readouterr().err
    # backup refuses to keep a copy of damaged pages, and exits non-zero.
    out = tmp_path / "copy.sqlite3"
    assert main(["backup", "--out", str(out), "--data-dir", str(d)]) == 1
    assert "failed integrity_check" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob("copy.sqlite3*"))


def test_a_file_that_is_not_a_database_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _install(tmp_path, capsys, users=1)
    _damage(d / "appliance.sqlite3", range(0, 1))  # the header
    assert main(["init", "--data-dir", str(d)]) == 1
    assert "damaged" in capsys.readouterr().err


def test_a_zero_byte_database_is_an_error_not_a_new_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _install(tmp_path, capsys, users=1)
    db = d / "appliance.sqlite3"
    db.write_bytes(b"")
    assert main(["serve", "--port", "0", "--data-dir", str(d)]) == 1
    err = capsys.readouterr().err
    assert "empty (0-byte) file, not a new install" in err and "appliance restore" in err
    assert db.stat().st_size == 0  # left as found


def test_a_first_start_cut_short_leaves_no_half_made_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "d"
    d.mkdir(mode=0o700)
    # What a first start killed while creating the database leaves behind (pid 2**22+1 is
    # above Linux's pid_max: no such process).
    leftover = d / f".appliance.sqlite3.new-{2**22 + 1}"
    leftover.write_bytes(b"SQLite format 3\0" + b"\0" * 100)
    code, out = run_cli(capsys, "init", "--json", "--data-dir", str(d))
    assert code == 0 and '"admin_api_key": "apk_' in out
    assert not leftover.exists()
    assert (d / "appliance.sqlite3").stat().st_size > 0


def test_backup_verifies_a_sound_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _install(tmp_path, capsys, users=3)
    code, out = run_cli(
        capsys, "backup", "--out", str(tmp_path / "b.sqlite3"), "--data-dir", str(d)
    )
    assert code == 0 and "backup written" in out
    conn = connect(tmp_path / "b.sqlite3")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 4
    finally:
        conn.close()
