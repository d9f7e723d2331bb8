-- PostgreSQL variant of 0003_payments.sql (the reasons are there).
CREATE TABLE stripe_checkouts (
    session_id     TEXT PRIMARY KEY,
    user_id        BIGINT REFERENCES users(id) ON DELETE SET NULL,
    pack           TEXT NOT NULL,
    credits        BIGINT NOT NULL CHECK (credits > 0),
    amount_cents   BIGINT NOT NULL CHECK (amount_cents >= 0),
    currency       TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open', 'pending', 'credited', 'failed', 'expired')),
    payment_intent TEXT,
    clawed_back    BIGINT NOT NULL DEFAULT 0 CHECK (clawed_back >= 0 AND clawed_back <= credits),
    created_at     TEXT NOT NULL DEFAULT strftime('%Y-%m-%dT%H:%M:%fZ'),
    updated_at     TEXT NOT NULL DEFAULT strftime('%Y-%m-%dT%H:%M:%fZ'),
    credited_at    TEXT
);
CREATE INDEX stripe_checkouts_user ON stripe_checkouts(user_id);
CREATE INDEX stripe_checkouts_intent ON stripe_checkouts(payment_intent)
    WHERE payment_intent IS NOT NULL;

CREATE TABLE stripe_events (
    event_id      TEXT PRIMARY KEY,
    type          TEXT NOT NULL,
    object_id     TEXT,
    result        TEXT NOT NULL,
    detail        TEXT,
    event_created BIGINT,
    via           TEXT NOT NULL CHECK (via IN ('webhook', 'reconcile')),
    received_at   TEXT NOT NULL DEFAULT strftime('%Y-%m-%dT%H:%M:%fZ')
);

CREATE TABLE stripe_refunds (
    payment_intent TEXT PRIMARY KEY,
    charge_id      TEXT NOT NULL,
    amount_cents   BIGINT NOT NULL CHECK (amount_cents > 0),
    refunded_cents BIGINT NOT NULL CHECK (refunded_cents >= 0),
    updated_at     TEXT NOT NULL DEFAULT strftime('%Y-%m-%dT%H:%M:%fZ')
);

CREATE TABLE license_redemptions (
    license_id  TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    user_id     BIGINT REFERENCES users(id) ON DELETE SET NULL,
    credits     BIGINT NOT NULL CHECK (credits > 0),
    issued_at   TEXT NOT NULL,
    expires     TEXT,
    redeemed_at TEXT NOT NULL DEFAULT strftime('%Y-%m-%dT%H:%M:%fZ')
);
CREATE INDEX license_redemptions_user ON license_redemptions(user_id);
