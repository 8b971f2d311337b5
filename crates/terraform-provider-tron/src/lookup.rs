//! Finding objects the API serves only under their service account (tokens
//! and trust policies), so that `terraform import ORG_ID/ID` works for them
//! too: the API has no organization-wide route for one token or policy, so
//! the provider walks the organization's service accounts. That costs one
//! request per account (and per page of tokens); the three-part
//! `ORG_ID/SERVICE_ACCOUNT_ID/ID` goes straight to the account.
use tron_client::{
    Client, ClientError, ListParams, OrganizationId, ServiceAccountId, TokenId, TokenView,
    TrustPolicy, TrustPolicyId,
};

use crate::common::is_not_found;

/// The token `id` of service account `sa`, from its list (the API has no
/// route for one token); `None` when the token or the account is gone.
pub async fn find_token(
    client: &Client,
    org: OrganizationId,
    sa: ServiceAccountId,
    id: TokenId,
) -> Result<Option<TokenView>, ClientError> {
    let mut page = ListParams::limit(200);
    loop {
        let p = match client.list_service_tokens(org, sa, &page).await {
            Ok(p) => p,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        if let Some(t) = p.items.iter().find(|t| t.id == id) {
            return Ok(Some(t.clone()));
        }
        match page.next(&p) {
            Some(next) => page = next,
            None => return Ok(None),
        }
    }
}

/// Every service account of the organization.
async fn service_accounts(
    client: &Client,
    org: OrganizationId,
) -> Result<Vec<ServiceAccountId>, ClientError> {
    let mut ids = Vec::new();
    let mut page = ListParams::limit(200);
    loop {
        let p = client.list_service_accounts(org, &page).await?;
        ids.extend(p.items.iter().map(|sa| sa.id));
        match page.next(&p) {
            Some(next) => page = next,
            None => return Ok(ids),
        }
    }
}

/// The token `id` of any service account of the organization, with its
/// account.
pub async fn token_anywhere(
    client: &Client,
    org: OrganizationId,
    id: TokenId,
) -> Result<Option<(ServiceAccountId, TokenView)>, ClientError> {
    for sa in service_accounts(client, org).await? {
        if let Some(t) = find_token(client, org, sa, id).await? {
            return Ok(Some((sa, t)));
        }
    }
    Ok(None)
}

/// The trust policy `id` of any service account of the organization.
pub async fn policy_anywhere(
    client: &Client,
    org: OrganizationId,
    id: TrustPolicyId,
) -> Result<Option<TrustPolicy>, ClientError> {
    for sa in service_accounts(client, org).await? {
        match client.get_trust_policy(org, sa, id).await {
            Ok(p) => return Ok(Some(p)),
            Err(e) if is_not_found(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// An import id of a service account's object: `ORG_ID/ID` or
/// `ORG_ID/SERVICE_ACCOUNT_ID/ID` (the parts still to be parsed).
#[derive(Debug, PartialEq, Eq)]
pub struct ChildId<'a> {
    pub org: &'a str,
    pub service_account: Option<&'a str>,
    pub id: &'a str,
}

pub fn child_id(s: &str) -> Option<ChildId<'_>> {
    let parts: Vec<&str> = s.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    match parts[..] {
        [org, id] => Some(ChildId {
            org,
            service_account: None,
            id,
        }),
        [org, sa, id] => Some(ChildId {
            org,
            service_account: Some(sa),
            id,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_id_has_two_or_three_parts() {
        assert_eq!(
            child_id("o/t"),
            Some(ChildId {
                org: "o",
                service_account: None,
                id: "t"
            })
        );
        assert_eq!(
            child_id("o/sa/t"),
            Some(ChildId {
                org: "o",
                service_account: Some("sa"),
                id: "t"
            })
        );
        for bad in ["", "o", "o/", "/t", "o//t", "o/sa/t/x"] {
            assert_eq!(child_id(bad), None, "{bad}");
        }
    }
}
