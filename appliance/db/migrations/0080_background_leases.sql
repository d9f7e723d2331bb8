-- Background work that any replica could do but one should: the reader's passage vectors
-- read ahead (rag/reading.py). Replicas on one PostgreSQL start together and would each read
-- the same passages at the same time; the replica holding the named lease does it, renewing
-- it at each step, and another takes over once it expires (the holder died). One SQLite
-- process never needs it, but has the table so the schema and queries are the same.
CREATE TABLE background_leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
