-- Several replicas on one PostgreSQL share the indexing queue: a claimed job names its replica
-- and a lease, renewed while it runs, after which another replica may claim it (the replica
-- died). One SQLite process needs neither, but has the columns so the queries are the same.
-- PostgreSQL's variant (postgresql/0070_replicas.sql) adds the replica registry, the owner of
-- each charge, and the shared rate-limit buckets.
ALTER TABLE index_jobs ADD COLUMN claimed_by TEXT;
ALTER TABLE index_jobs ADD COLUMN lease_expires_at TEXT;
