-- Embeddings by content: the int8 vector of every text the indexer embedded, keyed by a hash
-- of the embedder's identity and the exact text it read. A passage repeated across a
-- company's yearly filings (risk factors, accounting policies) and every re-index after a
-- chunking change reuse the stored vector instead of running the model again.
CREATE TABLE embedding_cache (
    key        BLOB PRIMARY KEY,   -- sha256(embedder fingerprint || 0x00 || text), 16 bytes
    embedding  BLOB NOT NULL       -- int8[384], as stored in chunk_vectors
) WITHOUT ROWID;
