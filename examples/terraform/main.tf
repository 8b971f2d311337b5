# A CI service account in a deployers group, with a token that rotates
# itself 15 days before it expires, and a trust policy so that GitHub
# Actions runs of one repository's main branch need no stored token at all;
# a token lifetime limit for the organization, a person made a member, and a
# webhook that warns before a token expires.
#
#   export TRON_URL=https://tron.example.com TRON_TOKEN=...   # an admin's token
#   terraform apply -var organization_id=...
# (see docs/terraform.md for installing the provider with dev_overrides)

terraform {
  required_providers {
    tron = { source = "tron/tron" }
  }
}

variable "organization_id" {
  type = string
}

provider "tron" {
  organization_id = var.organization_id
}

resource "tron_service_account" "ci" {
  name        = "ci-deployer"
  description = "Deploys from CI"
}

resource "tron_group" "deployers" {
  name       = "deployers"
  role       = "editor"
  scope_type = "organization"
}

resource "tron_group_member" "ci" {
  group_id  = tron_group.deployers.id
  member_id = tron_service_account.ci.member_id
}

resource "tron_service_account_token" "ci" {
  service_account_id   = tron_service_account.ci.id
  name                 = "deploy"
  expires_in_days      = 90
  rotate_before_days   = 15
  grace_period_seconds = 3600
}

resource "tron_trust_policy" "github_main" {
  service_account_id = tron_service_account.ci.id
  name               = "github-main"
  issuer             = "https://token.actions.githubusercontent.com"
  audience           = "tron"
  conditions = {
    repository_id = "123456789"
    ref           = "refs/heads/main"
  }
}

resource "tron_organization_settings" "this" {
  max_token_lifetime_days = 365
}

# An existing user; roles come from groups.
resource "tron_organization_member" "oncall" {
  email = "oncall@example.com"
}

resource "tron_group" "viewers" {
  name       = "viewers"
  role       = "viewer"
  scope_type = "organization"
}

resource "tron_group_member" "oncall" {
  group_id  = tron_group.viewers.id
  member_id = tron_organization_member.oncall.id
}

# 30, 7 and 1 days before a token expires, and when it has expired or was
# revoked (a rotation's grace ending included). Verify deliveries with the
# secret (Standard Webhooks signatures, docs/webhooks.md).
resource "tron_webhook" "expiry" {
  url         = "https://hooks.example.com/tron"
  events      = ["service_token.expiring", "service_token.expired", "service_token.revoked"]
  description = "Token expiry warnings"
}

output "webhook_secret" {
  value     = tron_webhook.expiry.secret
  sensitive = true
}

output "ci_token" {
  value     = tron_service_account_token.ci.token
  sensitive = true
}
