-- Failed logins, counted per account (the e-mail as typed, lower-cased) and per client
-- address, so guessing is slowed down across restarts too. A row holds the failures since
-- window_start; locked_until is set when they reach the limit (see appliance/logins.py).
CREATE TABLE login_failures (
    scope        TEXT NOT NULL CHECK (scope IN ('account', 'address')),
    subject      TEXT NOT NULL,
    failures     INTEGER NOT NULL,
    window_start REAL NOT NULL,   -- unix seconds
    locked_until REAL,            -- unix seconds; NULL or past: not locked
    PRIMARY KEY (scope, subject)
) WITHOUT ROWID;
