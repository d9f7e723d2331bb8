-- Stripe checkouts and webhook events, refunds, and offline license redemptions.
-- The credits themselves move through credit_ledger (0002): a checkout is credited under
-- ('stripe', 'checkout:<session id>') and a license under ('license', '<license id>'), whose
-- UNIQUE (source, source_ref) is what makes each exactly-once.

-- One row per Checkout Session, from our own create call or first seen in an event.
-- user_id, pack and credits are the server's record; an event never sets an amount.
CREATE TABLE stripe_checkouts (
    session_id     TEXT PRIMARY KEY,
    -- SET NULL, not CASCADE: deleting a user must not forget what was paid or redeemed.
    user_id        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    pack           TEXT NOT NULL,
    credits        INTEGER NOT NULL CHECK (credits > 0),
    amount_cents   INTEGER NOT NULL CHECK (amount_cents >= 0),
    currency       TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open', 'pending', 'credited', 'failed', 'expired')),
    payment_intent TEXT,
    -- Credits taken back by refunds so far (never more than credits).
    clawed_back    INTEGER NOT NULL DEFAULT 0 CHECK (clawed_back >= 0 AND clawed_back <= credits),
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')),
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')),
    credited_at    TEXT
);
CREATE INDEX stripe_checkouts_user ON stripe_checkouts(user_id);
CREATE INDEX stripe_checkouts_intent ON stripe_checkouts(payment_intent)
    WHERE payment_intent IS NOT NULL;

-- Every Stripe event id ever applied, written in the same transaction as its effect: a
-- redelivery finds its id here and changes nothing.
CREATE TABLE stripe_events (
    event_id      TEXT PRIMARY KEY,
    type          TEXT NOT NULL,
    object_id     TEXT,
    result        TEXT NOT NULL,
    detail        TEXT,
    event_created INTEGER,
    via           TEXT NOT NULL CHECK (via IN ('webhook', 'reconcile')),
    received_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ'))
) WITHOUT ROWID;

-- The highest refunded amount seen per payment intent. Kept even when the refund arrives
-- before the payment's credit (out-of-order delivery), so the credit is clawed back on arrival.
CREATE TABLE stripe_refunds (
    payment_intent TEXT PRIMARY KEY,
    charge_id      TEXT NOT NULL,
    amount_cents   INTEGER NOT NULL CHECK (amount_cents > 0),
    refunded_cents INTEGER NOT NULL CHECK (refunded_cents >= 0),
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ'))
) WITHOUT ROWID;

-- Each offline license key, once redeemed; its id is the license's unique id (lid).
CREATE TABLE license_redemptions (
    license_id  TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    user_id     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    credits     INTEGER NOT NULL CHECK (credits > 0),
    issued_at   TEXT NOT NULL,
    expires     TEXT,
    redeemed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ'))
) WITHOUT ROWID;
CREATE INDEX license_redemptions_user ON license_redemptions(user_id);
