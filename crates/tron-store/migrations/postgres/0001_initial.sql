-- Tron schema, version 1. Ids are UUID text; timestamps are microseconds
-- since the Unix epoch (BIGINT), booleans are 0/1: the same SQL then runs on
-- both backends. Unique constraints are named so violations map to fields.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_superuser BIGINT NOT NULL DEFAULT 0,
    is_active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    max_token_lifetime_days BIGINT,
    service_token_rate_limit_per_minute BIGINT NOT NULL DEFAULT 600,
    created_at BIGINT NOT NULL
);

CREATE TABLE service_accounts (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'active',
    created_at BIGINT NOT NULL,
    created_by_type TEXT NOT NULL,
    created_by_id TEXT,
    created_by_name TEXT,
    last_used_at BIGINT,
    CONSTRAINT service_accounts_org_name_key UNIQUE (organization_id, name)
);

CREATE TABLE members (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    service_account_id TEXT REFERENCES service_accounts (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    CONSTRAINT members_org_user_key UNIQUE (organization_id, user_id),
    CONSTRAINT members_service_account_key UNIQUE (service_account_id),
    CONSTRAINT members_one_principal CHECK ((user_id IS NULL) <> (service_account_id IS NULL))
);
CREATE INDEX members_user_idx ON members (user_id);

CREATE TABLE org_groups (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL,
    scope_type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT groups_org_name_key UNIQUE (organization_id, name)
);

-- The environments or applications a group's scope lists.
CREATE TABLE group_scope_items (
    group_id TEXT NOT NULL REFERENCES org_groups (id) ON DELETE CASCADE,
    resource_id TEXT NOT NULL,
    PRIMARY KEY (group_id, resource_id)
);
CREATE INDEX group_scope_items_resource_idx ON group_scope_items (resource_id);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES org_groups (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member_idx ON group_members (member_id);

-- Every kind of token. Only the keyed hash and a 4-character hint are kept.
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    hint TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    service_account_id TEXT REFERENCES service_accounts (id) ON DELETE CASCADE,
    organization_id TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    created_by_type TEXT NOT NULL,
    created_by_id TEXT,
    created_by_name TEXT,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT,
    -- When a refused use was last audited (service_token.rejected).
    rejected_logged_at BIGINT,
    CONSTRAINT tokens_hash_key UNIQUE (token_hash),
    CONSTRAINT tokens_one_owner CHECK ((user_id IS NULL) <> (service_account_id IS NULL))
);
CREATE INDEX tokens_user_idx ON tokens (user_id, kind);
CREATE INDEX tokens_service_account_idx ON tokens (service_account_id);

CREATE TABLE environments (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT environments_org_name_key UNIQUE (organization_id, name)
);

CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    repository TEXT,
    created_at BIGINT NOT NULL,
    CONSTRAINT applications_org_name_key UNIQUE (organization_id, name)
);

CREATE TABLE instances (
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    image TEXT NOT NULL,
    replicas BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (application_id, environment_id)
);
CREATE INDEX instances_environment_idx ON instances (environment_id);

CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    application_id TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    image TEXT NOT NULL,
    version TEXT,
    created_at BIGINT NOT NULL,
    created_by_type TEXT NOT NULL,
    created_by_id TEXT,
    created_by_name TEXT,
    FOREIGN KEY (application_id, environment_id)
        REFERENCES instances (application_id, environment_id) ON DELETE CASCADE
);
CREATE INDEX deployments_instance_idx ON deployments (application_id, environment_id, id);

-- The audit log. No foreign keys: events outlive what they describe.
-- organization_id is NULL for the platform log.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    organization_id TEXT,
    occurred_at BIGINT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT,
    actor_token_id TEXT,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT,
    target_name TEXT,
    details TEXT NOT NULL,
    request_id TEXT,
    ip TEXT
);
CREATE INDEX audit_events_org_idx ON audit_events (organization_id, id);
