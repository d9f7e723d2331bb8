-- PostgreSQL variant of 0040_creation_credits_ledger.sql (the reasons are there): the same
-- statement, with the alias PostgreSQL 15 requires on a subquery in FROM.
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
) AS balances
WHERE surplus > 0;
