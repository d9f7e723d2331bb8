"""``appliance index``: synchronous, incremental indexing from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.db.connection import connect
from tests.helpers import init_dir

INBOX = Path(__file__).parent / "data" / "inbox"


def test_index_ticker_then_nothing_left(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = init_dir(capsys, tmp_path / "d")
    assert main(["filings", "import", str(INBOX / "MRX"), "--data-dir", d, "--json"]) == 0
    capsys.readouterr()
    assert main(["index", "--data-dir", d]) == 2  # neither tickers nor --all
    assert main(["index", "NOSUCHCO", "--data-dir", d]) == 3
    assert "unknown ticker" in capsys.readouterr().err
    assert main(["index", "MRX", "--json", "--data-dir", d]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["sections"] > 5 and first["chunks"] == first["chunks_total"] > 20
    assert main(["index", "--all", "--json", "--data-dir", d]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["sections"] == 0 and second["chunks_total"] == first["chunks_total"]
    conn = connect(Path(d) / "appliance.sqlite3")
    try:
        vectors = conn.execute("SELECT count(*) FROM chunk_vectors").fetchone()[0]
        assert vectors == first["chunks"]
    finally:
        conn.close()
