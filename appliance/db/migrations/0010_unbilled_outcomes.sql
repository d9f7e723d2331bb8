-- Usage events for requests that reached the spend but were not billable: a filings question
-- answered "no_answer" or "not_indexed" is given back its charge and recorded with cost 0 and
-- that status, so operators see the demand (for missing companies, for example).
--
-- SQLite cannot change a CHECK constraint in place: usage_events is rebuilt (create, copy,
-- drop, rename; the migration runner turns foreign keys off around it), and its index and
-- debit trigger, dropped with the old table, are created again exactly as in 0002.
CREATE TABLE usage_events_new (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    endpoint        TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    idempotency_key TEXT,
    cost            INTEGER NOT NULL CHECK (cost >= 0),
    from_allowance  INTEGER NOT NULL DEFAULT 0 CHECK (from_allowance >= 0),
    allowance_period TEXT,
    quota_before    INTEGER NOT NULL,
    quota_after     INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN
                        ('charged', 'refunded', 'rejected', 'no_answer', 'not_indexed')),
    status_code     INTEGER,
    duration_ms     REAL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')),
    finished_at     TEXT
);
INSERT INTO usage_events_new (id, user_id, endpoint, request_id, idempotency_key, cost,
                              from_allowance, allowance_period, quota_before, quota_after,
                              status, status_code, duration_ms, created_at, finished_at)
SELECT id, user_id, endpoint, request_id, idempotency_key, cost, from_allowance,
       allowance_period, quota_before, quota_after, status, status_code, duration_ms,
       created_at, finished_at
FROM usage_events;
DROP TABLE usage_events;
ALTER TABLE usage_events_new RENAME TO usage_events;
CREATE INDEX usage_events_user ON usage_events(user_id, id);

CREATE TRIGGER usage_events_debit AFTER INSERT ON usage_events
WHEN NEW.status = 'charged' AND NEW.cost > 0
BEGIN
    UPDATE users SET
        allowance_remaining = allowance_remaining - NEW.from_allowance,
        quota_remaining = quota_remaining - (NEW.cost - NEW.from_allowance)
    WHERE id = NEW.user_id;
    SELECT RAISE(ABORT, 'a spend may not take a balance below zero')
    FROM users
    WHERE id = NEW.user_id AND (quota_remaining < 0 OR allowance_remaining < 0);
END;
