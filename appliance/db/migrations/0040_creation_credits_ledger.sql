-- Credits given when a user was created (`users create --credits N`, POST /v1/users with
-- "credits") used to go straight into users.quota_remaining with no ledger row. They are a
-- grant like any other: record each one now, under the reference new users get
-- ('user:ID:created', source 'admin'), so the books balance on installs made before.
-- The amount is what the ledger and the usage events cannot explain of the purchased balance;
-- only a surplus is recorded (creation credits were never negative): a shortfall would be a
-- different fault, which `appliance db check` must still report.
INSERT INTO credit_ledger (user_id, source, source_ref, pool, delta, balance_after)
SELECT id, 'admin', 'user:' || id || ':created', 'purchased', surplus, quota_remaining
FROM (
    SELECT u.id, u.quota_remaining,
        u.quota_remaining
        - coalesce((SELECT sum(l.delta) FROM credit_ledger l
                    WHERE l.user_id = u.id AND l.pool = 'purchased'), 0)
        + coalesce((SELECT sum(e.cost - e.from_allowance) FROM usage_events e
                    WHERE e.user_id = u.id AND e.status IN ('charged', 'refunded')), 0)
        AS surplus
    FROM users u
)
WHERE surplus > 0;
