//! `tron webhooks …`: the organization's webhooks and their deliveries
//! (SPEC §8). A webhook is given by its id or its URL; a new or rotated
//! secret is printed alone on stdout, its warning on stderr.
use clap::Subcommand;
use tron_client::{
    CreateWebhook, Delivery, DeliveryId, Description, OrganizationId, UpdateWebhook, Webhook,
    WebhookCreated, WebhookId,
};

use super::error::{CliError, Result};
use super::orgs::done;
use super::output::{self, Output};
use super::{all, resolve, Ctx};

#[derive(Subcommand, Debug)]
pub enum WebhooksCommand {
    /// The organization's webhooks.
    List,
    Show {
        /// The webhook's id or URL.
        webhook: String,
    },
    /// Registers URL for --events (comma-separated, or `*` for all); the
    /// signing secret is printed once.
    Create {
        /// Where to POST events (`https://…`).
        #[arg(value_name = "URL")]
        endpoint: String,
        #[arg(long, value_delimiter = ',', required = true)]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
    },
    Update {
        webhook: String,
        /// A new URL to POST events to.
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        #[arg(long, value_delimiter = ',')]
        events: Option<Vec<String>>,
        #[arg(long)]
        description: Option<String>,
        /// `true` to deliver, `false` to pause.
        #[arg(long)]
        active: Option<bool>,
    },
    Delete {
        webhook: String,
    },
    /// A new signing secret, printed once; the old one stops at once.
    RotateSecret {
        webhook: String,
    },
    /// Queues a `ping` event.
    Ping {
        webhook: String,
    },
    /// The webhook's deliveries, newest first.
    Deliveries {
        webhook: String,
    },
    /// Delivers a delivery's event again (the same `webhook-id`).
    Redeliver {
        webhook: String,
        delivery: String,
    },
}

fn fields(h: &Webhook) -> Vec<(&'static str, String)> {
    vec![
        ("id", h.id.to_string()),
        ("url", h.url.clone()),
        ("events", h.events.join(",")),
        ("description", h.description.clone()),
        ("active", h.active.to_string()),
        ("created", output::time(&h.created_at)),
    ]
}

fn delivery_row(d: &Delivery) -> Vec<String> {
    vec![
        d.id.to_string(),
        d.event_type.clone(),
        output::wire(&d.status),
        d.attempts.to_string(),
        d.last_status_code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "-".into()),
        output::opt(&d.last_error),
        output::opt_time(&d.next_attempt_at),
        output::time(&d.created_at),
    ]
}

/// A webhook by id, or by its URL.
async fn webhook(c: &tron_client::Client, org: OrganizationId, arg: &str) -> Result<WebhookId> {
    if let Some(id) = resolve::as_id(arg) {
        return Ok(WebhookId(id));
    }
    let items = all(|p| async move { c.list_webhooks(org, &p).await }).await?;
    let found: Vec<_> = items.iter().filter(|h| h.url == arg).collect();
    match found.as_slice() {
        [one] => Ok(one.id),
        [] => Err(CliError::not_found("webhook", arg)),
        _ => Err(CliError::failed(
            "ambiguous",
            format!("several webhooks point to {arg:?}: use an id"),
        )),
    }
}

/// The secret alone on stdout (or the whole object with `-o json`), the
/// warning on stderr.
fn shown_once(out: Output, created: &WebhookCreated) -> Result<()> {
    match out {
        Output::Json => output::json(created)?,
        Output::Table => output::line(created.secret.expose())?,
    }
    eprintln!(
        "warning: the signing secret of webhook {} is shown this once: store it where the receiver verifies signatures",
        created.item.id
    );
    Ok(())
}

pub async fn run(ctx: &Ctx, command: WebhooksCommand) -> Result<()> {
    let c = ctx.api()?;
    let org = ctx.org().await?;
    match command {
        WebhooksCommand::List => {
            let items = all(|p| async move { c.list_webhooks(org, &p).await }).await?;
            output::list(
                ctx.out,
                &items,
                &["ID", "URL", "EVENTS", "ACTIVE", "CREATED"],
                |h| {
                    vec![
                        h.id.to_string(),
                        h.url.clone(),
                        h.events.join(","),
                        h.active.to_string(),
                        output::time(&h.created_at),
                    ]
                },
            )
        }
        WebhooksCommand::Show { webhook: arg } => {
            let id = webhook(c, org, &arg).await?;
            output::object(ctx.out, &c.get_webhook(org, id).await?, fields)
        }
        WebhooksCommand::Create {
            endpoint,
            events,
            description,
        } => {
            let body = CreateWebhook {
                url: endpoint,
                events,
                description: description
                    .map(|d| Description::parse("description", &d))
                    .transpose()?,
            };
            shown_once(ctx.out, &c.create_webhook(org, &body).await?)
        }
        WebhooksCommand::Update {
            webhook: arg,
            endpoint,
            events,
            description,
            active,
        } => {
            let id = webhook(c, org, &arg).await?;
            let body = UpdateWebhook {
                url: endpoint,
                events,
                description: description
                    .map(|d| Description::parse("description", &d))
                    .transpose()?,
                active,
            };
            output::object(ctx.out, &c.update_webhook(org, id, &body).await?, fields)
        }
        WebhooksCommand::Delete { webhook: arg } => {
            let id = webhook(c, org, &arg).await?;
            c.delete_webhook(org, id).await?;
            done(ctx, &format!("Deleted webhook {arg}."))
        }
        WebhooksCommand::RotateSecret { webhook: arg } => {
            let id = webhook(c, org, &arg).await?;
            shown_once(ctx.out, &c.rotate_webhook_secret(org, id).await?)
        }
        WebhooksCommand::Ping { webhook: arg } => {
            let id = webhook(c, org, &arg).await?;
            let queued = c.ping_webhook(org, id).await?;
            match ctx.out {
                Output::Json => output::json(&queued),
                Output::Table => {
                    output::line(&format!("Queued a ping (webhook-id {}).", queued.event_id))
                }
            }
        }
        WebhooksCommand::Deliveries { webhook: arg } => {
            let id = webhook(c, org, &arg).await?;
            let items = all(|p| async move { c.list_deliveries(org, id, &p).await }).await?;
            output::list(
                ctx.out,
                &items,
                &[
                    "ID", "EVENT", "STATUS", "ATTEMPTS", "CODE", "ERROR", "NEXT", "QUEUED",
                ],
                delivery_row,
            )
        }
        WebhooksCommand::Redeliver {
            webhook: arg,
            delivery,
        } => {
            let id = webhook(c, org, &arg).await?;
            let delivery = resolve::as_id(&delivery)
                .map(DeliveryId)
                .ok_or_else(|| CliError::usage("a delivery is given by its id"))?;
            let d = c.redeliver(org, id, delivery).await?;
            output::object(ctx.out, &d, |d| {
                vec![
                    ("delivery", d.id.to_string()),
                    ("webhook-id", d.event_id.to_string()),
                    ("status", output::wire(&d.status)),
                ]
            })
        }
    }
}
