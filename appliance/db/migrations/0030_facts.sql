-- Inline-XBRL facts of imported filings (appliance/edgar/xbrl.py), one row per distinct fact
-- of a filing: concept, period, dimensions and unit. The same fact reported again by a later
-- filing (last year's column, a restatement) is another row with that filing's accession, so
-- a point-in-time read picks the newest filing dated on or before its cutoff.
CREATE TABLE facts (
    id            INTEGER PRIMARY KEY,
    accession     TEXT NOT NULL REFERENCES filings(accession) ON DELETE CASCADE,
    cik           INTEGER,
    concept       TEXT NOT NULL,              -- prefix:LocalName, as tagged
    name          TEXT NOT NULL,              -- LocalName, for lookups without the prefix
    label         TEXT NOT NULL,              -- the row label the filing prints, else the name in words
    value         TEXT NOT NULL,              -- exact decimal string (numeric) or the text
    numeric       INTEGER NOT NULL,
    unit          TEXT NOT NULL DEFAULT '',   -- USD, shares, USD/shares, pure; '' for text
    decimals      TEXT,
    period_start  TEXT NOT NULL DEFAULT '',   -- '' for an instant
    period_end    TEXT NOT NULL,              -- the instant, or the duration's last day
    dimensions    TEXT NOT NULL DEFAULT '',   -- canonical JSON {"axis": "member"}; '' for none
    fy            INTEGER,                    -- the fiscal year and period the dates fall in
    fp            TEXT,                       -- FY, Q1..Q4, 6M, 9M
    section       TEXT,                       -- the Item the fact is tagged in; NULL: cover/hidden
    context       TEXT NOT NULL DEFAULT '',   -- the text around the tag
    UNIQUE (accession, concept, period_start, period_end, dimensions, unit)
);
CREATE INDEX facts_cik_name ON facts(cik, name, period_end);
CREATE INDEX facts_accession ON facts(accession);

-- One row per filing whose XBRL was read (also when it had none): what import reports, and
-- what lets a later import add facts to filings stored before this table existed.
CREATE TABLE fact_extractions (
    accession     TEXT PRIMARY KEY REFERENCES filings(accession) ON DELETE CASCADE,
    facts         INTEGER NOT NULL,
    duplicates    INTEGER NOT NULL,
    conflicts     INTEGER NOT NULL,
    skipped       INTEGER NOT NULL,
    fiscal_year   INTEGER,
    fiscal_period TEXT,
    period_end    TEXT,
    extracted_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ'))
);
