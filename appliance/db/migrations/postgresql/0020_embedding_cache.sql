-- PostgreSQL variant of 0020_embedding_cache.sql (the reasons are there).
CREATE TABLE embedding_cache (
    key        BYTEA PRIMARY KEY,   -- sha256(embedder fingerprint || 0x00 || text), 16 bytes
    embedding  BYTEA NOT NULL       -- int8[384], as stored in chunk_vectors
);
