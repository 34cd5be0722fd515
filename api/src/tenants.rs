//! `tenantry tenants …` and `tenantry migrate`: the operator's side of the
//! tenant lifecycle.

use crate::app::{db_settings, redact};
use crate::config::Settings;
use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use infra::db::Storage;
use infra::tenancy::lifecycle::Outcome;

async fn connect(settings: &Settings) -> anyhow::Result<Storage> {
    Storage::connect(&db_settings(settings))
        .await
        .with_context(|| format!("connecting to {}", redact(&settings.database.url)))
}

/// Prints every tenant: id, slug, strategy, placement, version, members.
///
/// # Errors
/// When the database cannot be read.
pub async fn list(settings: &Settings) -> anyhow::Result<()> {
    let storage = connect(settings).await?;
    let tenants = storage.tenants().await.context("listing tenants")?;
    println!(
        "{:<36}  {:<24}  {:<9}  {:<34}  {:<44}  members",
        "id", "slug", "isolation", "placement", "version"
    );
    for t in &tenants {
        println!(
            "{:<36}  {:<24}  {:<9}  {:<34}  {:<44}  {}",
            t.id,
            t.slug,
            t.isolation,
            t.placement,
            t.version.as_deref().unwrap_or("-"),
            t.members
        );
    }
    println!("{} tenant(s)", tenants.len());
    Ok(())
}

/// Migrates the control plane and shared tables, then every schema tenant
/// with a progress bar, and reports each failure.
///
/// # Errors
/// When the shared migrations fail, or any tenant did.
pub async fn migrate(settings: &Settings, concurrency: usize) -> anyhow::Result<()> {
    let storage = connect(settings).await?;
    storage.migrate().await.context("running migrations")?;
    println!(
        "control plane and shared tables migrated ({})",
        storage.backend()
    );
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} tenants {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let results = storage
        .migrate_tenants(concurrency, |m, total| {
            bar.set_length(total as u64);
            bar.inc(1);
            if let Outcome::Failed(e) = &m.outcome {
                bar.println(format!("tenant {} ({}) failed: {e}", m.slug, m.tenant));
            }
        })
        .await
        .context("listing tenants to migrate")?;
    bar.finish_and_clear();
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|m| f(&m.outcome)).count();
    let (migrated, current, failed) = (
        count(|o| matches!(o, Outcome::Migrated { .. })),
        count(|o| *o == Outcome::UpToDate),
        count(|o| matches!(o, Outcome::Failed(_))),
    );
    println!("schema tenants: {migrated} migrated, {current} up to date, {failed} failed");
    if failed > 0 {
        anyhow::bail!("{failed} tenant(s) failed to migrate; fix them and run this again");
    }
    Ok(())
}
