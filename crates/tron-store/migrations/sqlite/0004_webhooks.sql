-- Webhooks (SPEC §8): endpoints of an organization, the outbox of events
-- and one delivery per event and webhook.

-- `secret` is sealed (an AEAD under a key derived from the server
-- secret, bound to the webhook's id); `events` is the JSON list of event
-- types, or ["*"].
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by_type TEXT NOT NULL,
    created_by_id TEXT,
    created_by_name TEXT
);
CREATE INDEX webhooks_org_idx ON webhooks (organization_id);

-- The outbox: an event is written in the transaction of the change that
-- causes it, with a delivery for each webhook that wants it.
CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    payload TEXT NOT NULL
);

-- A delivery is claimed by one instance at a time (`locked_until`, a
-- lease: a crashed instance's claim lapses and another retries).
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_error TEXT,
    next_attempt_at INTEGER,
    locked_until INTEGER,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);

-- Which expiry notices a token has had: 30, 7 or 1 (days before
-- `expires_at`), 0 (expired) or -1 (its rotation's grace ended). The
-- primary key makes the scan idempotent across instances and restarts.
CREATE TABLE token_notices (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    notice INTEGER NOT NULL,
    PRIMARY KEY (token_id, notice)
);
CREATE INDEX tokens_expires_idx ON tokens (expires_at);
