-- PostgreSQL variant of 0010_unbilled_outcomes.sql (the reasons are there). PostgreSQL changes
-- a CHECK constraint in place, so usage_events is altered rather than rebuilt (its index and
-- debit trigger stay as they are).
ALTER TABLE usage_events DROP CONSTRAINT usage_events_status_check;
ALTER TABLE usage_events ADD CONSTRAINT usage_events_status_check
    CHECK (status IN ('charged', 'refunded', 'rejected', 'no_answer', 'not_indexed'));
