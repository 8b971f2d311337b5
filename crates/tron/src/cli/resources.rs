//! `tron envs …` and `tron apps …`.
use clap::Subcommand;
use tron_client::{
    Application, CreateApplication, Environment, Instance, Name, ShortText, UpdateApplication,
};

use super::error::Result;
use super::orgs::done;
use super::output::{self, Output};
use super::{all, resolve, Ctx};

#[derive(Subcommand, Debug)]
pub enum EnvsCommand {
    /// The environments you may view.
    List,
    Show {
        env: String,
    },
    Create {
        name: String,
    },
    /// Renames an environment.
    Update {
        env: String,
        #[arg(long)]
        name: String,
    },
    /// Deletes an environment and its instances.
    Delete {
        env: String,
    },
    /// The instances in an environment.
    Instances {
        env: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AppsCommand {
    /// The applications you may view.
    List,
    Show {
        app: String,
    },
    Create {
        name: String,
        #[arg(long)]
        repository: Option<String>,
    },
    Update {
        app: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, conflicts_with = "no_repository")]
        repository: Option<String>,
        /// Removes the repository.
        #[arg(long)]
        no_repository: bool,
    },
    /// Deletes an application and its instances.
    Delete {
        app: String,
    },
    /// The instances of an application.
    Instances {
        app: String,
    },
}

fn env_fields(e: &Environment) -> Vec<(&'static str, String)> {
    vec![
        ("id", e.id.to_string()),
        ("name", e.name.clone()),
        ("created", output::time(&e.created_at)),
    ]
}

fn app_fields(a: &Application) -> Vec<(&'static str, String)> {
    vec![
        ("id", a.id.to_string()),
        ("name", a.name.clone()),
        ("repository", output::opt(&a.repository)),
        ("created", output::time(&a.created_at)),
    ]
}

/// Instances with the names of their application and environment (which
/// the instance objects carry).
pub fn instances(out: Output, items: &[Instance]) -> Result<()> {
    output::list(
        out,
        items,
        &["APPLICATION", "ENVIRONMENT", "IMAGE", "REPLICAS", "UPDATED"],
        |i| {
            vec![
                i.application_name.clone(),
                i.environment_name.clone(),
                i.image.clone(),
                i.replicas.to_string(),
                output::time(&i.updated_at),
            ]
        },
    )
}

pub async fn envs(ctx: &Ctx, command: EnvsCommand) -> Result<()> {
    let c = ctx.api()?;
    let org = ctx.org().await?;
    match command {
        EnvsCommand::List => {
            let items = all(|p| async move { c.list_environments(org, &p).await }).await?;
            output::list(ctx.out, &items, &["NAME", "ID", "CREATED"], |e| {
                vec![
                    e.name.clone(),
                    e.id.to_string(),
                    output::time(&e.created_at),
                ]
            })
        }
        EnvsCommand::Show { env } => {
            let id = resolve::environment(c, org, &env).await?;
            output::object(ctx.out, &c.get_environment(org, id).await?, env_fields)
        }
        EnvsCommand::Create { name } => {
            let e = c.create_environment(org, &name).await?;
            output::object(ctx.out, &e, env_fields)
        }
        EnvsCommand::Update { env, name } => {
            let id = resolve::environment(c, org, &env).await?;
            let e = c.rename_environment(org, id, &name).await?;
            output::object(ctx.out, &e, env_fields)
        }
        EnvsCommand::Delete { env } => {
            let id = resolve::environment(c, org, &env).await?;
            c.delete_environment(org, id).await?;
            done(ctx, &format!("Deleted environment {env}."))
        }
        EnvsCommand::Instances { env } => {
            let id = resolve::environment(c, org, &env).await?;
            let items =
                all(|p| async move { c.list_environment_instances(org, id, &p).await }).await?;
            instances(ctx.out, &items)
        }
    }
}

pub async fn apps(ctx: &Ctx, command: AppsCommand) -> Result<()> {
    let c = ctx.api()?;
    let org = ctx.org().await?;
    match command {
        AppsCommand::List => {
            let items = all(|p| async move { c.list_applications(org, &p).await }).await?;
            output::list(ctx.out, &items, &["NAME", "ID", "REPOSITORY"], |a| {
                vec![a.name.clone(), a.id.to_string(), output::opt(&a.repository)]
            })
        }
        AppsCommand::Show { app } => {
            let id = resolve::application(c, org, &app).await?;
            output::object(ctx.out, &c.get_application(org, id).await?, app_fields)
        }
        AppsCommand::Create { name, repository } => {
            let body = CreateApplication {
                name: Name::parse("name", &name)?,
                repository: repository
                    .map(|r| ShortText::parse("repository", &r))
                    .transpose()?,
            };
            let a = c.create_application(org, &body).await?;
            output::object(ctx.out, &a, app_fields)
        }
        AppsCommand::Update {
            app,
            name,
            repository,
            no_repository,
        } => {
            let id = resolve::application(c, org, &app).await?;
            let repository = match (repository, no_repository) {
                (_, true) => Some(None),
                (Some(r), false) => Some(Some(ShortText::parse("repository", &r)?)),
                (None, false) => None,
            };
            let body = UpdateApplication {
                name: name.map(|n| Name::parse("name", &n)).transpose()?,
                repository,
            };
            let a = c.update_application(org, id, &body).await?;
            output::object(ctx.out, &a, app_fields)
        }
        AppsCommand::Delete { app } => {
            let id = resolve::application(c, org, &app).await?;
            c.delete_application(org, id).await?;
            done(ctx, &format!("Deleted application {app}."))
        }
        AppsCommand::Instances { app } => {
            let id = resolve::application(c, org, &app).await?;
            let items =
                all(|p| async move { c.list_application_instances(org, id, &p).await }).await?;
            instances(ctx.out, &items)
        }
    }
}
