-- Retention (TRON_AUDIT_RETENTION_DAYS, TRON_TOKEN_RETENTION_DAYS): the
-- purges find what is old enough by these, a batch at a time (tokens by
-- expires_at: tokens_expires_idx, 0004).
CREATE INDEX audit_events_occurred_idx ON audit_events (occurred_at);
CREATE INDEX tokens_revoked_idx ON tokens (revoked_at);

