"""``import_paths`` on the real shared files: metadata, sections, idempotence, broken inputs."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.bootstrap import initialize
from appliance.db.connection import Connection, connect
from appliance.db.database import Database
from appliance.db.queries import filings as fq
from appliance.edgar.importer import ImportReport, import_paths
from appliance.settings import Settings, load_settings
from tests.support.edgar_data import DATA, EXPECTED, EXPECTED_ITEMS, FILINGS, SUBMISSIONS, key


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Connection, ImportReport]]:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("edgar") / "d", load_models=False)
    initialize(settings)
    conn = connect(settings.db_path)
    report = import_paths(conn, [SUBMISSIONS, FILINGS])
    print(f"\nimported {len(report.imported)} filings in {report.seconds:.2f}s")
    yield conn, report
    conn.close()


def test_every_shared_filing_imports(imported: tuple[Connection, ImportReport]) -> None:
    _, report = imported
    assert report.failed == []
    names = sorted(key(Path(f.path)) for f in report.imported)
    assert names == sorted(EXPECTED)
    assert len(report.by_status("metadata")) == 8 + 2  # submissions files + index pages


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_metadata_is_correct(imported: tuple[Connection, ImportReport], name: str) -> None:
    conn, _ = imported
    want = EXPECTED[name]
    row = fq.filing(conn, want.accession)
    assert row is not None
    assert (row.cik, row.ticker, row.form, row.filing_date, row.period_of_report) == (
        want.cik, want.ticker, want.form, want.filing_date, want.period
    )  # fmt: skip
    assert row.primary_document == want.primary_document
    if want.acceptance:
        assert row.acceptance_datetime == want.acceptance
    if want.company:
        assert row.company == want.company
    assert row.url is not None and row.url.startswith(
        f"https://www.sec.gov/Archives/edgar/data/{want.cik}/{want.accession.replace('-', '')}/"
    )
    if want.primary_document:
        assert row.url.endswith("/" + want.primary_document)
    assert len(row.sha256) == 64 and row.source_path and name in row.source_path
    sections = fq.filing_sections(conn, want.accession)
    assert [s.item for s in sections] == EXPECTED_ITEMS[name]
    assert row.char_count == sum(s.char_count for s in sections)
    assert all(s.key == f"{want.accession}/{s.item}" for s in sections)


def test_sections_read_back_by_item(imported: tuple[Connection, ImportReport]) -> None:
    conn, _ = imported
    risk = fq.section(conn, "0000320193-24-000123", "1a")
    assert risk is not None and risk.info.item == "1A" and risk.info.title == "Risk Factors"
    assert risk.info.char_count == len(risk.text) > 50_000
    assert fq.section(conn, "0000320193-24-000123", "99") is None


def test_listing_with_a_point_in_time_cutoff(imported: tuple[Connection, ImportReport]) -> None:
    conn, _ = imported
    rows = fq.list_filings(conn, ticker="aapl", forms=["10-K"], cutoff="2025-01-01")
    assert [r.filing_date for r in rows] == [
        "2024-11-01", "2023-11-03", "2019-10-31", "2008-11-05", "2002-12-19", "1995-12-19"
    ]  # fmt: skip
    on_the_day = fq.list_filings(conn, ticker="AAPL", forms=["10-K"], cutoff="2024-11-01")
    assert on_the_day[0].filing_date == "2024-11-01"  # the cutoff day itself is visible


def test_reimport_is_a_no_op(imported: tuple[Connection, ImportReport]) -> None:
    conn, first = imported
    before = conn.execute("SELECT accession, imported_at, sha256 FROM filings").fetchall()
    ids = conn.execute("SELECT id, key FROM sections ORDER BY id").fetchall()
    again = import_paths(conn, [FILINGS])
    assert len(again.by_status("unchanged")) == len(EXPECTED) and not again.imported
    assert again.seconds < first.seconds / 3
    assert conn.execute("SELECT accession, imported_at, sha256 FROM filings").fetchall() == before
    assert conn.execute("SELECT id, key FROM sections ORDER BY id").fetchall() == ids


def test_replace_reimports_and_keeps_section_ids(tmp_path: Path, settings: Settings) -> None:
    initialize(settings)
    conn = connect(settings.db_path)
    try:
        path = FILINGS / "TSLA" / "10-Q_2025-07-24_0001628280-25-035806.htm.gz"
        import_paths(conn, [path])
        ids = dict(conn.execute("SELECT item, id FROM sections").fetchall())
        conn.execute("UPDATE sections SET text = 'stale' WHERE item = 'part2_item1a'")
        again = import_paths(conn, [path], replace=True)
        assert [f.status for f in again.files] == ["replaced"]
        assert dict(conn.execute("SELECT item, id FROM sections").fetchall()) == ids
        risk = fq.section(conn, "0001628280-25-035806", "part2_item1a")
        assert risk is not None and risk.text != "stale"
    finally:
        conn.close()


def _corrupt_copies(folder: Path) -> dict[str, str]:
    """Broken files next to good ones; returns file name -> expected reason fragment."""
    good = FILINGS / "NVDA" / "10-Q_2025-08-27_0001045810-25-000209.htm.gz"
    folder.mkdir(parents=True)
    shutil.copy(good, folder / good.name)
    raw = gzip.decompress(good.read_bytes())
    cases = {
        "10-K_2024-01-02_0001045810-24-000001.htm.gz": (good.read_bytes()[:40_000], "gzip"),
        "10-K_2024-01-03_0001045810-24-000002.htm": (raw[: len(raw) // 2], "truncated HTML"),
        "10-K_2024-01-04_0001045810-24-000003.htm": (b"", "empty file"),
        "10-K_2024-01-05_0001045810-24-000004.htm": (bytes(range(256)) * 64, "binary"),
        "10-K_2024-01-06_0001045810-24-000005.txt": (
            b"<SEC-DOCUMENT>\n<DOCUMENT>\n<TYPE>10-K\n<TEXT>\nItem 1. Business\n" * 3,
            "truncated",
        ),
    }
    for name, (content, _) in cases.items():
        (folder / name).write_bytes(content)
    return {name: reason for name, (_, reason) in cases.items()}


def test_broken_files_are_reported_and_skipped(tmp_path: Path, settings: Settings) -> None:
    initialize(settings)
    expected = _corrupt_copies(tmp_path / "NVDA")
    conn = connect(settings.db_path)
    try:
        report = import_paths(conn, [tmp_path / "NVDA", tmp_path / "missing.htm"])
        failed = {Path(f.path).name: f.reason or "" for f in report.failed}
        assert set(failed) == {*expected, "missing.htm"}
        for name, reason in expected.items():
            assert reason in failed[name], (name, failed[name])
        assert [f.accession for f in report.imported] == ["0001045810-25-000209"]
        assert fq.count_filings(conn) == 1
        assert conn.execute("SELECT count(*) FROM sections WHERE accession NOT IN"
                            " (SELECT accession FROM filings)").fetchone()[0] == 0  # fmt: skip
    finally:
        conn.close()


def test_a_failing_write_leaves_no_half_filing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    initialize(settings)
    original = fq.save_filing

    def explode(conn: Connection, *args: object, **kwargs: object) -> str:
        original(conn, *args, **kwargs)  # type: ignore[arg-type]
        raise RuntimeError("disk full after the sections were written")

    monkeypatch.setattr(fq, "save_filing", explode)
    conn = connect(settings.db_path)
    try:
        report = import_paths(conn, [FILINGS / "TSLA"])
        assert len(report.failed) == 2 and "disk full" in (report.failed[0].reason or "")
        assert conn.execute("SELECT count(*) FROM filings").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM sections").fetchone()[0] == 0
    finally:
        conn.close()


def test_import_through_the_app_database_writer(settings: Settings) -> None:
    initialize(settings)
    db = Database(settings.db_path)
    db.start()
    try:
        report = import_paths(db, [SUBMISSIONS / "2026_edgartools_cassettes", FILINGS / "TSLA"])
        assert [f.status for f in report.imported] == ["imported", "imported"]
        row = db.read_sync(fq.filing, "0001628280-25-003063")
        assert row is not None and row.acceptance_datetime is not None
    finally:
        db.close()


def test_test_data_is_the_shared_set() -> None:
    # Every shared filing is here (gzipped); tests never read /work/shared directly.
    assert (DATA / "SOURCES.md").is_file()
    assert len(list(FILINGS.rglob("*.gz"))) == len(EXPECTED) + 2


def test_other_layouts_edgar_names_and_downloader_trees(tmp_path: Path, settings: Settings) -> None:
    initialize(settings)
    tree = tmp_path / "sec-edgar-filings" / "AAPL" / "10-K" / "0001193125-08-224958"
    tree.mkdir(parents=True)
    source = FILINGS / "AAPL" / "10-K_2008-11-05_0001193125-08-224958.tagstripped.txt.gz"
    (tree / "full-submission.txt").write_bytes(gzip.decompress(source.read_bytes()))
    native = tmp_path / "edgar" / "0000912057-00-023442.txt.gz"
    native.parent.mkdir()
    shutil.copy(FILINGS / "AAPL" / "10-Q_2000-05-11_0000912057-00-023442.txt.gz", native)
    conn = connect(settings.db_path)
    try:
        report = import_paths(conn, [tmp_path / "sec-edgar-filings", native])
        assert [f.accession for f in report.imported] == [
            "0001193125-08-224958", "0000912057-00-023442"
        ]  # fmt: skip
        row = fq.filing(conn, "0000912057-00-023442")
        assert row is not None and (row.cik, row.form, row.filing_date) == (
            320193, "10-Q", "2000-05-11"
        )  # fmt: skip
        assert row.url == (
            "https://www.sec.gov/Archives/edgar/data/320193/000091205700023442/"
            "0000912057-00-023442.txt"
        )
    finally:
        conn.close()
