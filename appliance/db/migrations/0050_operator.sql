-- Operator commands: disabling users, invalidating a user's access tokens, cancelling jobs.
--
-- disabled_at: a disabled user's keys, tokens and password are refused (users disable|enable).
-- tokens_valid_after: access tokens issued before this Unix time are refused (a password reset
-- or a disable ends every session the user had).
-- cancel_requested_at: `appliance jobs cancel` on a running job; the indexer stops after the
-- batch in progress and records the job as failed with error "cancelled".
ALTER TABLE users ADD COLUMN disabled_at TEXT;
ALTER TABLE users ADD COLUMN tokens_valid_after INTEGER NOT NULL DEFAULT 0;
ALTER TABLE index_jobs ADD COLUMN cancel_requested_at TEXT;
