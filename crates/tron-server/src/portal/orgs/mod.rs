//! The organization's pages, a room each: my organizations (`home`), the
//! overview (`overview`) and a page per section: audit (`audit`), settings
//! and deletion (`settings`), members (`members`), environments and
//! applications (`resources`), what they share (`details`). Shared here: the URL, the frame and the
//! confirmation page.

use askama::Template;
use axum::response::Response;

use crate::access::OrgCtx;
use crate::portal::error::PortalError;
use crate::portal::session::PortalSession;
use crate::portal::view::{Choice, Layout};

mod details;
mod home;
mod instances;
mod member_page;
mod members;
mod overview;
mod platform;
mod resources;
mod settings;

pub(crate) use details::Can;
pub(crate) use details::{group_label, member_row, name_maps, role_choices, scope_text, MemberRow};
pub(crate) use home::{create, home};
pub(crate) use member_page::member_page;
pub(crate) use members::{
    add_member, page as members_page, remove_member, remove_member_page, sole_admin,
};
pub(crate) use overview::show;

/// Service tokens expiring this soon are listed on the overview and marked.
pub(crate) const EXPIRING_WITHIN_DAYS: i64 = crate::portal::view::SOON_DAYS;
pub(crate) use instances::{deploy, first_deploy, show as instance_page};
pub(crate) use platform::{application as application_page, environment as environment_page};
pub(crate) use resources::{
    applications_page, create_application, create_environment, delete_application,
    delete_application_page, delete_environment, delete_environment_page, environments_page,
};
pub(crate) use settings::{delete, delete_page, page as settings_page, update_settings};

pub(crate) type PageResult = Result<Response, PortalError>;

pub(crate) fn org_url(ctx: &OrgCtx) -> String {
    format!("/orgs/{}", ctx.org_id())
}

/// A section's own page: `/orgs/{org}/members`, `…/groups`, ….
pub(crate) fn section_url(ctx: &OrgCtx, section: &str) -> String {
    format!("/orgs/{}/{section}", ctx.org_id())
}

/// A page's frame inside an organization.
pub(crate) fn org_layout(session: &PortalSession, ctx: &OrgCtx, title: &str) -> Layout {
    Layout::new(session, title)
        .crumb("Organizations", "/")
        .crumb(ctx.organization().name.clone(), org_url(ctx))
}

#[derive(Template)]
#[template(path = "confirm.html")]
pub(crate) struct ConfirmPage {
    pub layout: Layout,
    pub heading: String,
    pub message: String,
    pub action: String,
    pub button: String,
    pub cancel: String,
    /// Rotation asks how long the old token keeps working.
    pub grace_choices: Vec<Choice>,
    /// Fields the confirmed form posts along (name, value).
    pub hidden: Vec<(String, String)>,
    /// A name the user must type to confirm (posted as `confirm_name`).
    pub type_to_confirm: Option<String>,
}

impl ConfirmPage {
    pub(crate) fn new(
        layout: Layout,
        heading: impl Into<String>,
        message: impl Into<String>,
        action: impl Into<String>,
        button: impl Into<String>,
        cancel: impl Into<String>,
    ) -> Self {
        ConfirmPage {
            layout,
            heading: heading.into(),
            message: message.into(),
            action: action.into(),
            button: button.into(),
            cancel: cancel.into(),
            grace_choices: Vec::new(),
            hidden: Vec::new(),
            type_to_confirm: None,
        }
    }

    /// Posts `name=value` along with the confirmation.
    pub(crate) fn with_field(mut self, name: &str, value: impl Into<String>) -> Self {
        self.hidden.push((name.to_owned(), value.into()));
        self
    }
}
