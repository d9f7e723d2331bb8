"""``appliance symbols ...`` and ``appliance filings ...`` in-process against a real data dir."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.edgar.sample import sample_dir
from tests.helpers import init_dir
from tests.support.edgar_data import FILINGS, SUBMISSIONS, TICKERS_2024
from tests.support.edgar_server import edgar_stub


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_symbols_load_show_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = init_dir(capsys, tmp_path / "d")
    code, out, _ = run(capsys, "symbols", "load", str(TICKERS_2024), "--json", "--data-dir", d)
    first = json.loads(out)
    assert code == 0 and first["vintage"] == "2024-05-14" and first["rows"] == 9_610
    code, out, _ = run(capsys, "symbols", "load", str(TICKERS_2024), "--json", "--data-dir", d)
    assert json.loads(out)["changed"] == 0  # idempotent
    code, out, _ = run(capsys, "symbols", "show", "brk-b", "--json", "--data-dir", d)
    shown = json.loads(out)
    assert shown["cik"] == 1067983 and set(shown["tickers"]) >= {"BRK-A", "BRK-B"}
    code, out, _ = run(capsys, "symbols", "search", "nvid", "--data-dir", d)
    assert out.splitlines()[0].startswith("NVDA\t1045810\t")
    code, _, err = run(capsys, "symbols", "show", "NOPE", "--data-dir", d)
    assert code == 3 and "unknown ticker NOPE" in err


def test_symbols_load_rejects_a_malformed_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "company_tickers.json"
    good_rows = json.loads(gzip.decompress(TICKERS_2024.read_bytes()))
    good_rows["17"]["cik_str"] = "not-a-number"
    bad.write_text(json.dumps(good_rows))
    d = init_dir(capsys, tmp_path / "d")
    code, _, err = run(capsys, "symbols", "load", str(bad), "--data-dir", d)
    assert code == 2 and "entry '17': cik is not a number" in err and str(bad) in err
    code, out, _ = run(capsys, "symbols", "search", "apple", "--data-dir", d)
    assert out == ""  # nothing half-loaded


def test_symbols_load_from_a_url(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("APPLIANCE_EDGAR_USER_AGENT", "Tests tests@example.com")
    with edgar_stub() as stub:
        url = f"{stub.base}/files/company_tickers_exchange.json"
        code, out, _ = run(capsys, "symbols", "load", url, "--json",
                           "--data-dir", init_dir(capsys, tmp_path / "d"))  # fmt: skip
    loaded = json.loads(out)
    assert code == 0 and loaded["kind"] == "company_tickers_exchange"
    assert loaded["vintage"] == "2025-12-14"  # from Last-Modified


def test_filings_import_list_show_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = init_dir(capsys, tmp_path / "d")
    folder = tmp_path / "in" / "NVDA"
    folder.mkdir(parents=True)
    for p in (FILINGS / "NVDA").iterdir():
        shutil.copy(p, folder / p.name)
    (folder / "10-K_2024-01-01_0001045810-24-000099.htm").write_bytes(b"\x00garbage")
    shutil.copy(SUBMISSIONS / "2026_edgartools_cassettes" / "CIK0001045810.json.gz", folder)
    code, out, err = run(capsys, "filings", "import", str(tmp_path / "in"), "--data-dir", d)
    assert code == 1  # one broken file: reported, the rest imported
    assert "0001045810-24-000099" in err and "binary" in err
    assert "3 imported" in out and "1 failed" in out
    code, out, _ = run(capsys, "filings", "list", "--ticker", "NVDA", "--json", "--data-dir", d)
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["form"] for r in rows] == ["10-Q", "10-K", "10-K"]
    code, out, _ = run(capsys, "filings", "list", "--cutoff", "2024-01-01", "--data-dir", d)
    assert out.count("\n") == 1 and "0001045810-23-000017" in out
    code, out, _ = run(capsys, "filings", "show", "0001045810-25-000023", "--json", "--data-dir", d)
    shown = json.loads(out)
    assert shown["acceptance_datetime"] and len(shown["sections"]) == 23
    code, out, _ = run(capsys, "filings", "show", "0001045810-25-000023", "--item", "1C",
                       "--data-dir", d)  # fmt: skip
    assert out.startswith("1C. Cybersecurity\n\nRisk management and strategy")
    code, out, _ = run(capsys, "filings", "report", "--json", "--data-dir", d)
    report = [json.loads(line) for line in out.splitlines()]
    assert len(report) == 3 and report[0]["sections"]["1A"] > 50_000
    one = tmp_path / "in" / "NVDA" / "10-Q_2025-08-27_0001045810-25-000209.htm.gz"
    code, out, _ = run(capsys, "filings", "import", str(one), "--data-dir", d)
    assert code == 0 and "1 unchanged" in out


def test_filings_sample_loads_the_bundle_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = init_dir(capsys, tmp_path / "d")
    code, out, _ = run(capsys, "filings", "sample", "--json", "--data-dir", d)
    first = json.loads(out)
    assert code == 0 and first["symbols"]["total"] == 10_218
    assert first["filings"] == {"metadata": 1, "imported": 5}
    code, out, _ = run(capsys, "filings", "sample", "--json", "--data-dir", d)
    assert json.loads(out) == {"symbols": None, "filings": None}
    manifest = json.loads((sample_dir() / "MANIFEST.json").read_text())
    assert manifest["tickers"]["vintage"] == "2025-12-14"
