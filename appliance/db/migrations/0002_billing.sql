-- Credits: the purchased balance may go negative (a clawback with allow_negative), the monthly
-- allowance lives beside it, and every grant is recorded once in the credit ledger.
--
-- SQLite cannot drop a CHECK constraint in place, so users is rebuilt (the documented
-- create-copy-drop-rename procedure; the migration runner turns foreign keys off around it, so
-- dropping the old table does not cascade into api_keys). Spends still never go below zero:
-- their UPDATE is conditional (see appliance/db/queries/billing.py).
CREATE TABLE users_new (
    id                  INTEGER PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash       TEXT,
    is_admin            INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    plan                TEXT NOT NULL DEFAULT 'free',
    quota_remaining     INTEGER NOT NULL DEFAULT 0,
    quota_monthly       INTEGER NOT NULL DEFAULT 10 CHECK (quota_monthly >= 0),
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')),
    -- What is left of this month's allowance, and which month ('YYYY-MM', UTC) it belongs to;
    -- a NULL or past period means the allowance is due for renewal at the next spend.
    allowance_remaining INTEGER NOT NULL DEFAULT 0 CHECK (allowance_remaining >= 0),
    allowance_period    TEXT
);
INSERT INTO users_new (id, email, password_hash, is_admin, plan, quota_remaining, quota_monthly,
                       created_at, updated_at)
SELECT id, email, password_hash, is_admin, plan, quota_remaining, quota_monthly,
       created_at, updated_at
FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

CREATE TABLE credit_ledger (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    source        TEXT NOT NULL CHECK (source IN ('monthly', 'stripe', 'license', 'admin', 'refund')),
    source_ref    TEXT NOT NULL,
    -- Which balance the row moved: 'purchased' (users.quota_remaining) or 'allowance'.
    pool          TEXT NOT NULL DEFAULT 'purchased' CHECK (pool IN ('purchased', 'allowance')),
    delta         INTEGER NOT NULL,
    balance_after INTEGER NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')),
    UNIQUE (source, source_ref)
);
CREATE INDEX credit_ledger_user ON credit_ledger(user_id, id);

-- One row per billable request that reached the spend: 'charged' (paid), 'refunded' (paid,
-- then given back because the request failed) or 'rejected' (402, nothing spent).
-- quota_before/after are the total spendable credits (allowance + purchased) around the spend.
CREATE TABLE usage_events (
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
    status          TEXT NOT NULL CHECK (status IN ('charged', 'refunded', 'rejected')),
    status_code     INTEGER,
    duration_ms     REAL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')),
    finished_at     TEXT
);
CREATE INDEX usage_events_user ON usage_events(user_id, id);

-- A charged usage event *is* the debit: inserting one takes its cost from the user's balances
-- (from_allowance from the allowance, the rest from purchased credits), in the same statement.
-- So a charge can never exist without its debit, nor the other way round, and a spend is one
-- atomic statement (see queries/billing.py charge()). The guard makes "spends never go below
-- zero" a property of the database: a spend that would overdraw either balance, or any spend
-- while the purchased balance is negative (a clawback), aborts.
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

-- Idempotency-Key records: the first request's body hash and, once done, its response.
CREATE TABLE idempotency_keys (
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    endpoint     TEXT NOT NULL,
    body_hash    TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
    usage_id     INTEGER,
    status_code  INTEGER,
    response     BLOB,
    credits_remaining INTEGER,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')),
    PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
