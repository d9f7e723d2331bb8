-- Retrieval: chunks of filing sections, their vectors (sqlite-vec) and keyword index (FTS5),
-- which sections are indexed, and the background indexer's durable job queue.

-- One row per chunk of a section; text is the evidence a citation shows, header the
-- contextual line (company, form, period, Item) embedded and keyword-indexed with it.
CREATE TABLE chunks (
    id          INTEGER PRIMARY KEY,
    section_id  INTEGER NOT NULL REFERENCES sections(id) ON DELETE CASCADE,
    accession   TEXT NOT NULL REFERENCES filings(accession) ON DELETE CASCADE,
    ordinal     INTEGER NOT NULL,
    char_start  INTEGER NOT NULL,
    char_end    INTEGER NOT NULL,
    tokens      INTEGER NOT NULL,
    header      TEXT NOT NULL,
    text        TEXT NOT NULL,
    UNIQUE (section_id, ordinal)
);
CREATE INDEX chunks_accession ON chunks(accession);

-- A section is indexed when its row here exists: written in the same transaction as its
-- chunks, vectors and keyword rows, so a crash leaves a section either whole or untouched.
CREATE TABLE indexed_sections (
    section_id  INTEGER PRIMARY KEY REFERENCES sections(id) ON DELETE CASCADE,
    accession   TEXT NOT NULL REFERENCES filings(accession) ON DELETE CASCADE,
    chunks      INTEGER NOT NULL,
    policy      TEXT NOT NULL,
    indexed_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ'))
);
CREATE INDEX indexed_sections_accession ON indexed_sections(accession);

-- The durable store of the embeddings (int8, per-vector scale; cosine ignores the scale).
CREATE VIRTUAL TABLE chunk_vectors USING vec0(
    chunk_id  INTEGER PRIMARY KEY,
    embedding int8[384] distance_metric=cosine
);

-- Keyword index over header and text, content kept in `chunks` (external content).
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    header, text,
    content='chunks', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);

-- Virtual tables take no part in foreign keys: these keep them in step with `chunks`,
-- so deleting a filing (cascading to its chunks) leaves no orphan vector or keyword row.
CREATE TRIGGER chunks_after_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, header, text) VALUES (new.id, new.header, new.text);
END;
CREATE TRIGGER chunks_after_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, header, text)
        VALUES ('delete', old.id, old.header, old.text);
    DELETE FROM chunk_vectors WHERE chunk_id = old.id;
END;

-- The background indexer's queue: queued -> running -> done | failed.
CREATE TABLE index_jobs (
    id              INTEGER PRIMARY KEY,
    ticker          TEXT NOT NULL,
    cik             INTEGER,
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'done', 'failed')),
    source          TEXT,
    phase           TEXT,
    progress_done   INTEGER NOT NULL DEFAULT 0,
    progress_total  INTEGER NOT NULL DEFAULT 0,
    filings         INTEGER NOT NULL DEFAULT 0,
    chunks          INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    requested_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')),
    started_at      TEXT,
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')),
    finished_at     TEXT
);
-- At most one live job per ticker: a second request finds the first.
CREATE UNIQUE INDEX index_jobs_live ON index_jobs(ticker) WHERE status IN ('queued', 'running');
CREATE INDEX index_jobs_status ON index_jobs(status, id);
