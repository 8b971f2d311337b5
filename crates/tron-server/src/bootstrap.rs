//! First start: with no users, create a superuser.
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::Rng;
use tron_core::values::Email;
use tron_core::{validate, Error};
use tron_store::models::RequestMeta;
use tron_store::users::NewUser;
use tron_store::Store;

use crate::password;

/// What the first start did, for the terminal.
pub enum Bootstrap {
    AlreadyHasUsers,
    Created {
        email: String,
        generated_password: Option<String>,
    },
}

pub async fn ensure_admin(
    store: &Store,
    email: Option<String>,
    password: Option<String>,
) -> Result<Bootstrap, Error> {
    if store.count_users().await? > 0 {
        return Ok(Bootstrap::AlreadyHasUsers);
    }
    let email = Email::parse(
        "TRON_ADMIN_EMAIL",
        email.as_deref().unwrap_or("admin@localhost"),
    )?
    .into_string();
    let (password, generated) = match password {
        Some(p) => {
            validate::password("TRON_ADMIN_PASSWORD", &p)?;
            (p, false)
        }
        None => (generate_password(), true),
    };
    let hash = password::hash(password.clone()).await?;
    // Checked again as it is created: another instance starting at the
    // same time may have created its superuser since the count above.
    let created = store
        .create_first_user(
            &RequestMeta::system(),
            chrono::Utc::now(),
            NewUser {
                email: email.clone(),
                name: "Administrator".into(),
                password_hash: hash,
                is_superuser: true,
            },
        )
        .await?;
    if created.is_none() {
        return Ok(Bootstrap::AlreadyHasUsers);
    }
    Ok(Bootstrap::Created {
        email,
        generated_password: generated.then_some(password),
    })
}

/// A random 24-character alphanumeric password (≈ 142 bits).
pub fn generate_password() -> String {
    (0..24)
        .map(|_| OsRng.sample(Alphanumeric) as char)
        .collect()
}
