-- Users, API keys and the appliance's own metadata (install id, secrets).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id               INTEGER PRIMARY KEY,
    email            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash    TEXT,
    is_admin         INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    plan             TEXT NOT NULL DEFAULT 'free',
    quota_remaining  INTEGER NOT NULL DEFAULT 0 CHECK (quota_remaining >= 0),
    quota_monthly    INTEGER NOT NULL DEFAULT 10 CHECK (quota_monthly >= 0),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ'))
);

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    prefix      TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    name        TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')),
    last_used_at TEXT,
    revoked_at  TEXT
);
CREATE INDEX api_keys_user ON api_keys(user_id);
