-- PostgreSQL variant of 0070_replicas.sql: what replicas share beyond the tables themselves.

ALTER TABLE index_jobs ADD COLUMN claimed_by TEXT, ADD COLUMN lease_expires_at TEXT;

-- The replicas serving now. Each holds a session advisory lock on its lock_key for as long as
-- it runs (PostgreSQL releases it when the process or its connection dies), so any replica
-- can tell a live one from a dead one without clocks or heartbeats; a dead one's row is
-- deleted by whichever replica finds it (appliance/replicas.py).
CREATE TABLE replicas (
    id          TEXT PRIMARY KEY,
    lock_key    BIGINT NOT NULL UNIQUE,
    host        TEXT,
    pid         INTEGER,
    started_at  TEXT NOT NULL DEFAULT strftime('%Y-%m-%dT%H:%M:%fZ')
);

-- Which replica made a charge: every pooled connection sets appliance.replica, so the spend's
-- INSERT (the same SQL as on SQLite) fills it. Recovery refunds only the unfinished charges
-- of replicas that are gone, never a live replica's requests in flight.
ALTER TABLE usage_events ADD COLUMN owner TEXT DEFAULT current_setting('appliance.replica', true);
CREATE INDEX usage_events_unfinished ON usage_events(id)
    WHERE status = 'charged' AND status_code IS NULL;

-- One token bucket per API key, shared by every replica: refilled and taken in one statement
-- on the database's clock. UNLOGGED: not money, so no WAL; a crash empties it (buckets full).
CREATE UNLOGGED TABLE rate_limits (
    key         TEXT PRIMARY KEY,
    tokens      DOUBLE PRECISION NOT NULL,
    allowed     BOOLEAN NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
