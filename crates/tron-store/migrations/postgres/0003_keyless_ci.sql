-- Keyless CI (SPEC §7): trust policies, the ID tokens already exchanged,
-- and when a refused exchange was last audited.

-- A service account's trust policy: which ID tokens of one issuer may act
-- as it. `conditions` is a JSON object of claim: pattern pairs, validated
-- by tron-oidc before it is stored.
CREATE TABLE trust_policies (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    service_account_id TEXT NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    issuer TEXT NOT NULL,
    audience TEXT NOT NULL,
    conditions TEXT NOT NULL,
    token_ttl_seconds BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by_type TEXT NOT NULL,
    created_by_id TEXT,
    created_by_name TEXT,
    last_used_at BIGINT,
    CONSTRAINT trust_policies_sa_name_key UNIQUE (service_account_id, name)
);
CREATE INDEX trust_policies_org_sa_idx ON trust_policies (organization_id, service_account_id, issuer);

-- Every exchanged ID token, by issuer and jti, until a while after it
-- expires: the primary key is what makes a jti single-use across every
-- instance (the insert is in the transaction that mints the token).
CREATE TABLE oidc_exchanged_tokens (
    issuer TEXT NOT NULL,
    jti TEXT NOT NULL,
    forget_after BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX oidc_exchanged_tokens_forget_idx ON oidc_exchanged_tokens (forget_after);

-- When a refused exchange was last audited, per service account and
-- reason: at most one service_token.exchange_rejected a minute, counted
-- across instances.
CREATE TABLE oidc_rejections (
    service_account_id TEXT NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    logged_at BIGINT NOT NULL,
    PRIMARY KEY (service_account_id, reason)
);

-- Where a token came from: 'manual' (made through the API or the portal)
-- or 'oidc' (an exchange, with the policy that accepted it; no foreign
-- key: a deleted policy leaves its short-lived tokens to expire).
ALTER TABLE tokens ADD COLUMN source TEXT NOT NULL DEFAULT 'manual';
ALTER TABLE tokens ADD COLUMN trust_policy_id TEXT;
