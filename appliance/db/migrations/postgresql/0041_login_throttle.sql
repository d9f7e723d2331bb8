-- PostgreSQL variant of 0041_login_throttle.sql (the reasons are there). Unix seconds are
-- DOUBLE PRECISION: PostgreSQL's REAL is 4 bytes, too coarse for a timestamp. Shared by every
-- replica, so a lock holds whichever replica the next guess reaches.
CREATE TABLE login_failures (
    scope        TEXT NOT NULL CHECK (scope IN ('account', 'address')),
    subject      TEXT NOT NULL,
    failures     BIGINT NOT NULL,
    window_start DOUBLE PRECISION NOT NULL,
    locked_until DOUBLE PRECISION,
    PRIMARY KEY (scope, subject)
);
