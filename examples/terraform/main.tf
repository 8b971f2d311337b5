# A CI service account in a deployers group, with a token that rotates
# itself 15 days before it expires, and a trust policy so that GitHub
# Actions runs of one repository's main branch need no stored token at all.
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

output "ci_token" {
  value     = tron_service_account_token.ci.token
  sensitive = true
}
