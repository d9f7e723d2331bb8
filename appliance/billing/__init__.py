"""Credits: the ledger, quota spends and refunds, usage events, idempotency, rate limits."""
