-- Rotation, version 2. A rotated token records its successor
-- (`replaced_by`): a token with one is only living out its grace period and
-- cannot be rotated again, so one rotation yields exactly one live
-- successor. `grace_ends_at` is the revocation the rotation scheduled:
-- `revoked_at` equals it until an explicit revocation ends the grace period
-- sooner, which is how a revocation tells a scheduled `revoked_at` from one
-- that already happened without comparing clocks.
ALTER TABLE tokens ADD COLUMN replaced_by TEXT;
ALTER TABLE tokens ADD COLUMN grace_ends_at INTEGER;

-- Tokens rotated before this migration and still in their grace period:
-- their successor is not known, but their revocation is a scheduled one.
UPDATE tokens SET grace_ends_at = revoked_at
WHERE revoked_at > CAST(strftime('%s', 'now') AS INTEGER) * 1000000;
