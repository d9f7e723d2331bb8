"""The real EDGAR files the tests use (copied from /work/shared/data/edgar, gzipped) and the
facts known about them independently of the parser (from SOURCES.md and EDGAR itself)."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parents[1] / "data" / "edgar"
FILINGS = DATA / "filings"
SUBMISSIONS = DATA / "submissions"
TICKERS_2024 = DATA / "tickers" / "2024-05-14_edgartools" / "company_tickers.json.gz"


def shared_filings() -> list[Path]:
    """Every filing document of the shared set (index pages are metadata, not filings)."""
    return sorted(p for p in FILINGS.rglob("*.gz") if "-index_" not in p.name)


def read(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


@dataclass(frozen=True)
class Expected:
    accession: str
    cik: int
    ticker: str | None
    form: str
    filing_date: str
    period: str
    primary_document: str | None = None
    acceptance: str | None = None
    company: str | None = None


# Keyed by file name without ".gz". Acceptance times are EDGAR's (SGML header or submissions
# JSON); primary documents are the names EDGAR lists for the accession.
EXPECTED: dict[str, Expected] = {
    "10-K_1995-12-19_0000320193-95-000016.tagstripped.txt": Expected(
        "0000320193-95-000016", 320193, "AAPL", "10-K", "1995-12-19", "1995-09-29",
        company="APPLE COMPUTER INC",
    ),
    "10-K_2002-12-19_0001047469-02-007674.tagstripped.txt": Expected(
        "0001047469-02-007674", 320193, "AAPL", "10-K", "2002-12-19", "2002-09-28",
        "a2096490z10-k.htm", "2002-12-19T17:20:21", "APPLE COMPUTER INC",
    ),
    "10-K_2008-11-05_0001193125-08-224958.tagstripped.txt": Expected(
        "0001193125-08-224958", 320193, "AAPL", "10-K", "2008-11-05", "2008-09-27",
        "d10k.htm", "2008-11-05T06:16:23", "APPLE INC",
    ),
    "10-K_2019-10-31_0000320193-19-000119.tagstripped.txt": Expected(
        "0000320193-19-000119", 320193, "AAPL", "10-K", "2019-10-31", "2019-09-28",
        "a10-k20199282019.htm", "2019-10-30T18:12:36", "Apple Inc.",
    ),
    "10-K_2023-11-03_0000320193-23-000106.tagstripped.txt": Expected(
        "0000320193-23-000106", 320193, "AAPL", "10-K", "2023-11-03", "2023-09-30",
        "aapl-20230930.htm", "2023-11-02T18:08:27", "Apple Inc.",
    ),
    "10-K_2024-11-01_0000320193-24-000123.htm": Expected(
        "0000320193-24-000123", 320193, "AAPL", "10-K", "2024-11-01", "2024-09-28",
        "aapl-20240928.htm", "2024-11-01T06:01:36", "Apple Inc.",
    ),
    "10-K_2025-10-31_0000320193-25-000079.htm": Expected(
        "0000320193-25-000079", 320193, "AAPL", "10-K", "2025-10-31", "2025-09-27",
        "aapl-20250927.htm", "2025-10-31T06:01:26", "Apple Inc.",
    ),
    "10-Q_2000-05-11_0000912057-00-023442.txt": Expected(
        "0000912057-00-023442", 320193, "AAPL", "10-Q", "2000-05-11", "2000-04-01",
        company="APPLE COMPUTER INC",
    ),
    "10-Q_2024-08-02_0000320193-24-000081.htm": Expected(
        "0000320193-24-000081", 320193, "AAPL", "10-Q", "2024-08-02", "2024-06-29",
        "aapl-20240629.htm", "2024-08-01T18:03:34", "Apple Inc.",
    ),
    "10-Q_2025-05-02_0000320193-25-000057.htm": Expected(
        "0000320193-25-000057", 320193, "AAPL", "10-Q", "2025-05-02", "2025-03-29",
        "aapl-20250329.htm", "2025-05-02T06:00:46", "Apple Inc.",
    ),
    "10-Q_2025-08-01_0000320193-25-000073.htm": Expected(
        "0000320193-25-000073", 320193, "AAPL", "10-Q", "2025-08-01", "2025-06-28",
        "aapl-20250628.htm", "2025-08-01T06:00:42", "Apple Inc.",
    ),
    "8-K_2019-11-15_0001193125-19-292676.txt": Expected(
        "0001193125-19-292676", 320193, "AAPL", "8-K", "2019-11-15", "2019-11-07",
        "d828969d8k.htm", "2019-11-15T06:02:24", "Apple Inc.",
    ),
    "10-K_2010-03-31_0001193125-10-073212.html": Expected(
        "0001193125-10-073212", 786344, None, "10-K", "2010-03-31", "2009-12-31",
        company="GAINSCO, INC.",
    ),
    "10-K_1999-09-28_0000950153-99-001234.html": Expected(
        "0000950153-99-001234", 859368, None, "10-K", "1999-09-28", "1999-06-30",
        company="MEDICIS PHARMACEUTICAL CORPORATION",
    ),
    "10-K_2016-03-30_0001376474-16-000635.html": Expected(
        "0001376474-16-000635", 1253347, None, "10-K", "2016-03-30", "2015-12-31",
        company="COMMONWEALTH INCOME & GROWTH FUND V",
    ),
    "10-K_2018-03-08_0001564590-18-004771.htm": Expected(
        "0001564590-18-004771", 1009672, "CRR", "10-K", "2018-03-08", "2017-12-31",
        "crr-10k_20171231.htm", "2018-03-07T18:03:42",
    ),
    "10-K_2023-02-24_0001045810-23-000017.htm": Expected(
        "0001045810-23-000017", 1045810, "NVDA", "10-K", "2023-02-24", "2023-01-29",
        "nvda-20230129.htm",
    ),
    "10-K_2025-02-26_0001045810-25-000023.htm": Expected(
        "0001045810-25-000023", 1045810, "NVDA", "10-K", "2025-02-26", "2025-01-26",
        "nvda-20250126.htm",
    ),
    "10-Q_2025-08-27_0001045810-25-000209.htm": Expected(
        "0001045810-25-000209", 1045810, "NVDA", "10-Q", "2025-08-27", "2025-07-27",
        "nvda-20250727.htm",
    ),
    "10-K_2025-01-30_0001628280-25-003063.htm": Expected(
        "0001628280-25-003063", 1318605, "TSLA", "10-K", "2025-01-30", "2024-12-31",
        "tsla-20241231.htm",
    ),
    "10-Q_2025-07-24_0001628280-25-035806.htm": Expected(
        "0001628280-25-035806", 1318605, "TSLA", "10-Q", "2025-07-24", "2025-06-30",
        "tsla-20250630.htm",
    ),
}  # fmt: skip

_K_ALL = [
    "1", "1A", "1B", "1C", "2", "3", "4", "5", "6", "7", "7A", "8",
    "9", "9A", "9B", "9C", "10", "11", "12", "13", "14", "15", "16",
]  # fmt: skip
_Q_ALL = [
    "part1_item1", "part1_item2", "part1_item3", "part1_item4", "part2_item1", "part2_item1a",
    "part2_item2", "part2_item3", "part2_item4", "part2_item5", "part2_item6",
]  # fmt: skip


def _without(codes: list[str], *drop: str) -> list[str]:
    return [c for c in codes if c not in drop]


# The Items each filing prints in its body, in order (read off the documents by hand).
EXPECTED_ITEMS: dict[str, list[str]] = {
    "10-K_1995-12-19_0000320193-95-000016.tagstripped.txt": _without(
        _K_ALL, "1A", "1B", "1C", "7A", "9A", "9B", "9C", "15", "16"
    ),
    "10-K_2002-12-19_0001047469-02-007674.tagstripped.txt": _without(
        _K_ALL, "1A", "1B", "1C", "9A", "9B", "9C", "16"
    ),
    "10-K_2008-11-05_0001193125-08-224958.tagstripped.txt": _without(_K_ALL, "1C", "9C", "16"),
    "10-K_2019-10-31_0000320193-19-000119.tagstripped.txt": _without(_K_ALL, "1C", "9C"),
    "10-K_2023-11-03_0000320193-23-000106.tagstripped.txt": _K_ALL,
    "10-K_2024-11-01_0000320193-24-000123.htm": _K_ALL,
    "10-K_2025-10-31_0000320193-25-000079.htm": _K_ALL,
    "10-Q_2000-05-11_0000912057-00-023442.txt": [
        "part1_item1",
        "part1_item2",
        "part1_item3",
        "part2_item1",
        "part2_item4",
        "part2_item6",
    ],
    "10-Q_2024-08-02_0000320193-24-000081.htm": _Q_ALL,
    "10-Q_2025-05-02_0000320193-25-000057.htm": _Q_ALL,
    "10-Q_2025-08-01_0000320193-25-000073.htm": _Q_ALL,
    "8-K_2019-11-15_0001193125-19-292676.txt": ["document"],
    "10-K_2010-03-31_0001193125-10-073212.html": _without(_K_ALL, "1C", "9C", "16"),
    "10-K_1999-09-28_0000950153-99-001234.html": _without(
        _K_ALL, "1A", "1B", "1C", "9A", "9B", "9C", "15", "16"
    ),
    "10-K_2016-03-30_0001376474-16-000635.html": _without(_K_ALL, "1C", "9C", "16"),
    "10-K_2018-03-08_0001564590-18-004771.htm": _without(_K_ALL, "1C", "9C"),
    "10-K_2023-02-24_0001045810-23-000017.htm": _without(_K_ALL, "1C"),
    "10-K_2025-02-26_0001045810-25-000023.htm": _K_ALL,
    "10-Q_2025-08-27_0001045810-25-000209.htm": _without(_Q_ALL, "part2_item3", "part2_item4"),
    "10-K_2025-01-30_0001628280-25-003063.htm": _K_ALL,
    "10-Q_2025-07-24_0001628280-25-035806.htm": _Q_ALL,
}


def key(path: Path) -> str:
    return path.name.removesuffix(".gz")
