-- PostgreSQL variant of 0050_operator.sql (the reasons are there).
ALTER TABLE users ADD COLUMN disabled_at TEXT;
ALTER TABLE users ADD COLUMN tokens_valid_after BIGINT NOT NULL DEFAULT 0;
ALTER TABLE index_jobs ADD COLUMN cancel_requested_at TEXT;

-- tokens_valid_after is written as SQLite's CAST(strftime('%s', 'now') AS INTEGER) (the Unix
-- time in whole seconds): this gives PostgreSQL the same spelling, as 0001 does for the
-- timestamp format, so that SQL is written once.
CREATE FUNCTION strftime(fmt text, at text) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF fmt = '%s' AND at = 'now' THEN
        RETURN floor(extract(epoch FROM statement_timestamp()))::bigint::text;
    END IF;
    RAISE EXCEPTION 'strftime(%, %): only the Unix time of now is provided', fmt, at;
END
$$;
