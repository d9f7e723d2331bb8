-- SEC EDGAR: the symbol map, the filing catalog from submissions JSON, imported filings and
-- their sections. Dates are ISO text (YYYY-MM-DD); acceptance times are EDGAR's own clock
-- (US Eastern), ISO text without offset, as EDGAR publishes them.

-- One row per ticker file loaded: where it came from and the snapshot date it describes.
CREATE TABLE symbol_files (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('company_tickers', 'company_tickers_exchange')),
    vintage     TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    row_count   INTEGER NOT NULL,
    loaded_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ'))
);

CREATE TABLE companies (
    cik         INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ'))
);

-- Names a company filed under before (from submissions JSON formerNames), for point-in-time
-- display: Apple filed as "APPLE COMPUTER INC" until 2007.
CREATE TABLE company_names (
    cik         INTEGER NOT NULL,
    name        TEXT NOT NULL,
    valid_from  TEXT,
    valid_to    TEXT,
    PRIMARY KEY (cik, name)
);

-- Several tickers can share one CIK (share classes). A ticker keeps the row from the newest
-- vintage that lists it; tickers missing from a newer file stay (delisted companies' filings
-- still need them), with the vintage that last listed them.
CREATE TABLE symbols (
    ticker      TEXT PRIMARY KEY,
    cik         INTEGER NOT NULL,
    name        TEXT NOT NULL,
    exchange    TEXT,
    vintage     TEXT NOT NULL,
    rank        INTEGER NOT NULL,   -- position in its file: the SEC lists larger issuers first
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ'))
);
CREATE INDEX symbols_cik ON symbols(cik, rank);
CREATE INDEX symbols_name ON symbols(name COLLATE NOCASE);

-- The filing catalog from submissions JSON: what exists on EDGAR, imported or not.
CREATE TABLE submissions (
    accession            TEXT PRIMARY KEY,
    cik                  INTEGER,
    form                 TEXT NOT NULL,
    filing_date          TEXT,
    period_of_report     TEXT,
    acceptance_datetime  TEXT,
    primary_document     TEXT,
    description          TEXT
);
CREATE INDEX submissions_cik_form ON submissions(cik, form, filing_date);

CREATE TABLE filings (
    accession            TEXT PRIMARY KEY,
    cik                  INTEGER,
    ticker               TEXT,
    company              TEXT,
    form                 TEXT NOT NULL,
    filing_date          TEXT NOT NULL,
    acceptance_datetime  TEXT,
    period_of_report     TEXT,
    primary_document     TEXT,
    url                  TEXT,
    source_path          TEXT,
    source_format        TEXT NOT NULL,
    sha256               TEXT NOT NULL,
    char_count           INTEGER NOT NULL,
    imported_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ'))
);
CREATE INDEX filings_ticker_date ON filings(ticker, filing_date);
CREATE INDEX filings_cik_date ON filings(cik, filing_date);
CREATE INDEX filings_form_date ON filings(form, filing_date);

-- One row per Item. `key` ("<accession>/<item>") is stable across machines and re-imports;
-- `id` is the integer rowid vector tables can join on, kept when --replace updates a filing
-- whose Items did not change. Later tables (chunks) reference sections(id) ON DELETE CASCADE.
CREATE TABLE sections (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    accession   TEXT NOT NULL REFERENCES filings(accession) ON DELETE CASCADE,
    item        TEXT NOT NULL,
    title       TEXT NOT NULL,
    ordinal     INTEGER NOT NULL,
    text        TEXT NOT NULL,
    char_count  INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    UNIQUE (accession, item)
);
CREATE INDEX sections_accession ON sections(accession, ordinal);
