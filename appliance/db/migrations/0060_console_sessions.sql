-- Browser sessions of the web console: an HttpOnly cookie holds a random token; only its
-- SHA-256 is stored. A session made by pasting an API key ends with that key's revocation.
CREATE TABLE console_sessions (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    csrf_token  TEXT NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    api_key_id  INTEGER REFERENCES api_keys(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')),
    expires_at  TEXT NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions(user_id);
CREATE INDEX console_sessions_expires ON console_sessions(expires_at);
