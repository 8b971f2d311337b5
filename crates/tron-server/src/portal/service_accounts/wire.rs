//! What a pipeline needs next to a token it was just given: where the API
//! is, which organization, and lines to paste into a job. None of it holds
//! the token: the snippets read it from the CI system's secret store.
use tron_core::ids::ServiceAccountId;

use crate::access::OrgCtx;

use super::trust::api_base;

pub(super) struct WireUp {
    /// The API's address (`TRON_PUBLIC_URL`, or `$TRON_URL` when unknown).
    pub api: String,
    pub org_id: String,
    pub docs: String,
    pub curl: String,
    pub cli: String,
    pub github: String,
    pub gitlab: String,
}

pub(super) fn wire_up(ctx: &OrgCtx, sa: ServiceAccountId) -> WireUp {
    let api = api_base(ctx);
    let org = ctx.org_id().to_string();
    let whoami = format!("{api}/api/v1/me");
    let environments = format!("{api}/api/v1/organizations/{org}/environments");
    WireUp {
        docs: if api.starts_with('$') {
            "/api/docs".to_owned()
        } else {
            format!("{api}/api/docs")
        },
        curl: format!(
            "export TRON_TOKEN=…   # the token above\n\
             curl -sS --fail-with-body -H \"Authorization: Bearer $TRON_TOKEN\" {whoami}\n\
             curl -sS --fail-with-body -H \"Authorization: Bearer $TRON_TOKEN\" \\\n  {environments}"
        ),
        cli: format!(
            "export TRON_URL={api} TRON_ORG={org} TRON_TOKEN=…\n\
             tron whoami\n\
             tron can-i update environment:staging"
        ),
        github: format!(
            "# Repository → Settings → Secrets and variables → Actions:\n\
             #   add the token as the secret TRON_TOKEN\n\
             env:\n  TRON_URL: {api}\n  TRON_ORG: {org}\n\
             steps:\n  - name: Who am I to Tron\n    run: |\n      \
             curl -sS --fail-with-body \\\n        \
             -H \"Authorization: Bearer ${{{{ secrets.TRON_TOKEN }}}}\" \\\n        \
             \"$TRON_URL/api/v1/me\"\n\
             # Service account {sa}; keyless CI needs no stored token at all:\n\
             # see “Keyless CI” below."
        ),
        gitlab: format!(
            "# Project → Settings → CI/CD → Variables:\n\
             #   add the token as TRON_TOKEN (masked, protected)\n\
             deploy:\n  variables:\n    TRON_URL: {api}\n    TRON_ORG: {org}\n  \
             script:\n    - >\n      \
             curl -sS --fail-with-body\n      \
             -H \"Authorization: Bearer $TRON_TOKEN\"\n      \
             \"$TRON_URL/api/v1/me\""
        ),
        api,
        org_id: org,
    }
}
