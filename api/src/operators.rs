//! `tenantry operators …`: the only way to grant the operator role.

use crate::config::Settings;
use anyhow::Context;
use domain::operator::Operators;
use domain::values::Email;

fn email(raw: &str) -> anyhow::Result<Email> {
    Email::parse(raw).map_err(|_| anyhow::anyhow!("{raw:?} is not an email address"))
}

/// # Errors
/// An unknown user, or the database unreachable.
pub async fn add(settings: &Settings, raw: &str) -> anyhow::Result<()> {
    let platform = crate::app::platform(settings).await?;
    let user = platform
        .operators()
        .grant(&email(raw)?)
        .await
        .with_context(|| format!("granting {raw} the operator role (is it a user's email?)"))?;
    // Who granted it is whoever ran this on the server: the log keeps it.
    tracing::info!(user_id = %user.id, email = %user.email, "operator role granted");
    println!("{} ({}) is an operator", user.email, user.id);
    Ok(())
}

/// # Errors
/// An unknown user, or the database unreachable.
pub async fn remove(settings: &Settings, raw: &str) -> anyhow::Result<()> {
    let platform = crate::app::platform(settings).await?;
    let was = platform
        .operators()
        .revoke(&email(raw)?)
        .await
        .with_context(|| format!("taking the operator role from {raw}"))?;
    tracing::info!(email = raw, was, "operator role removed");
    if was {
        println!("{raw} is no longer an operator");
    } else {
        println!("{raw} was not an operator");
    }
    Ok(())
}

/// # Errors
/// The database unreachable.
pub async fn list(settings: &Settings) -> anyhow::Result<()> {
    let platform = crate::app::platform(settings).await?;
    let operators = platform
        .operators()
        .operators()
        .await
        .context("listing operators")?;
    println!("{:<36}  {:<40}  granted", "id", "email");
    for (user, at) in operators {
        println!(
            "{:<36}  {:<40}  {}",
            user.id,
            user.email.as_str(),
            at.to_rfc3339()
        );
    }
    Ok(())
}
