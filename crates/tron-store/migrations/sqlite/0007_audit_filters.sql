-- The audit log's filters stay fast in an organization with millions of
-- events (issue 20): without these, a rare actor, target, actor type or
-- action prefix read every event of the organization. Each ends with id, so
-- a filtered page is one range of its index in the log's order (newest
-- first, cursor `id <`). The action prefix filter is a range
-- (`action >= 'service_token.' AND action < 'service_token/'`); SQLite
-- compares text bytewise (BINARY), as the PostgreSQL column now does.
CREATE INDEX audit_events_org_actor_idx ON audit_events (organization_id, actor_id, id);
CREATE INDEX audit_events_org_actor_type_idx ON audit_events (organization_id, actor_type, id);
CREATE INDEX audit_events_org_action_idx ON audit_events (organization_id, action, id);
CREATE INDEX audit_events_org_target_idx ON audit_events (organization_id, target_id, id);
-- A time filter's own index (see `list_audit_events`).
CREATE INDEX audit_events_org_occurred_idx ON audit_events (organization_id, occurred_at);
