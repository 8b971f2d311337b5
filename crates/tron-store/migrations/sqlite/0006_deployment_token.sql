-- Which token made a deployment (the portal's instance history says "by
-- ci-deployer with token …a1B2"); NULL for deployments made before this.
ALTER TABLE deployments ADD COLUMN created_by_token_id TEXT;
