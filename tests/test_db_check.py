"""`appliance db check`: the books balance (balance = ledger - usage, per user), and every
credit grant, the starting credits of a new user included, is a ledger row."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from appliance.app import create_app
from appliance.bootstrap import initialize
from appliance.cli import main
from appliance.db.connection import connect, transaction
from appliance.db.migrate import migrate
from appliance.paths import migrations_dir
from appliance.settings import Settings, load_settings
from tests.helpers import auth, init_dir, make_user, run_cli


def _ledger(db: Path, user_id: int) -> list[tuple[str, str, int]]:
    conn = connect(db)
    try:
        rows = conn.execute(
            "SELECT source, source_ref, delta FROM credit_ledger WHERE user_id = ? ORDER BY id",
            (user_id,),
        ).fetchall()
    finally:
        conn.close()
    return [tuple(r) for r in rows]


def test_credits_at_creation_are_a_ledger_row_from_the_cli_and_the_api(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    client: TestClient,
    admin_key: str,
    settings: Settings,
) -> None:
    d = init_dir(capsys, tmp_path / "cli")
    code, out = run_cli(
        capsys, "users", "create", "c@example.com", "--credits", "7", "--json", "--data-dir", d
    )
    created = json.loads(out)
    assert code == 0 and created["purchased"] == 7
    assert _ledger(tmp_path / "cli" / "appliance.sqlite3", created["id"]) == [
        ("admin", f"user:{created['id']}:created", 7)
    ]
    user = make_user(client, admin_key, "api@example.com", credits=5)
    assert user["purchased"] == 5
    assert _ledger(settings.db_path, user["id"]) == [("admin", f"user:{user['id']}:created", 5)]
    # Spent and refunded or not, the books still balance (the autouse check runs db check too).
    r = client.get("/v1/quota", headers=auth(user["api_key"]))
    assert r.json()["purchased"] == 5
    code, out = run_cli(capsys, "db", "check", "--json", "--data-dir", str(settings.data_dir))
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["users"] == 2


@pytest.mark.no_db_check
def test_db_check_names_a_user_whose_balance_the_books_do_not_explain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "d"
    init_dir(capsys, d)
    _, out = run_cli(
        capsys, "users", "create", "u@example.com", "--credits", "3", "--json", "--data-dir", str(d)
    )
    user_id = json.loads(out)["id"]
    assert run_cli(capsys, "db", "check", "--data-dir", str(d))[0] == 0
    conn = connect(d / "appliance.sqlite3")
    conn.execute("UPDATE users SET quota_remaining = quota_remaining + 1 WHERE id = ?", (user_id,))
    conn.close()
    assert main(["db", "check", "--data-dir", str(d)]) == 1
    err = capsys.readouterr().err
    assert f"user {user_id} (u@example.com): purchased balance 4" in err
    assert "ledger minus usage gives 3" in err


@pytest.mark.no_db_check
def test_db_check_counts_allowance_spends_and_refunds_of_the_current_month(
    settings: Settings, admin_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(
        data_dir=settings.data_dir, load_models=False, access_log=False, echo_endpoint=True
    )
    with TestClient(create_app(settings)) as c:
        user = make_user(c, admin_key, "m@example.com", credits=2)
        key = user["api_key"]
        for _ in range(12):  # 10 from the allowance, 2 purchased
            assert c.post("/v1/echo", json={"text": "x"}, headers=auth(key)).status_code == 200
    assert run_cli(capsys, "db", "check", "--data-dir", str(settings.data_dir))[0] == 0
    # A spend whose debit never happened (the allowance left as it was) is caught.
    conn = connect(settings.db_path)
    conn.execute("UPDATE users SET allowance_remaining = 1 WHERE id = ?", (user["id"],))
    conn.close()
    assert main(["db", "check", "--data-dir", str(settings.data_dir)]) == 1
    assert "allowance 1, but the ledger minus usage gives 0" in capsys.readouterr().err


def test_upgrade_records_the_creation_credits_of_older_installs(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d", load_models=False, access_log=False)
    old = tmp_path / "old_migrations"
    old.mkdir()
    for sql in migrations_dir().glob("*.sql"):
        if sql.name < "0040":
            shutil.copy(sql, old / sql.name)
    settings.data_dir.mkdir(mode=0o700)
    conn = connect(settings.db_path)
    try:
        migrate(conn, old)
        with transaction(conn):  # what creating a user with 9 credits used to write
            conn.execute("INSERT INTO users (email, quota_remaining) VALUES ('old@example.com', 9)")
    finally:
        conn.close()
    result = initialize(settings)
    assert "0040_creation_credits_ledger" in result.migrations_applied
    assert _ledger(settings.db_path, 1) == [("admin", "user:1:created", 9)]
