//! `tenantry tenants …` and `tenantry migrate`: the operator's side of the
//! tenant lifecycle.

use crate::app::{db_settings, redact};
use crate::config::Settings;
use anyhow::Context as _;
use domain::TenantId;
use domain::identity::Tenant;
use domain::lifecycle::TenantLifecycle;
use domain::ports::{Accounts, Directory};
use indicatif::{ProgressBar, ProgressStyle};
use infra::db::Storage;
use infra::platform::Platform;
use infra::tenancy::lifecycle::Outcome;
use std::io::Write as _;

async fn connect(settings: &Settings) -> anyhow::Result<Storage> {
    Storage::connect(&db_settings(settings))
        .await
        .with_context(|| format!("connecting to {}", redact(&settings.database.url)))
}

/// Every adapter, for commands that go through the stores: their changes
/// reach the running nodes through the change feed (and Redis, when set).
async fn platform(settings: &Settings) -> anyhow::Result<Platform> {
    crate::app::platform(settings).await
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

/// The tenant named by id or slug.
async fn find(platform: &Platform, key: &str) -> anyhow::Result<Tenant> {
    let identity = platform.identity();
    let found = match key.parse::<TenantId>() {
        Ok(id) => identity.tenant(id).await.ok(),
        Err(_) => match domain::values::TenantSlug::parse(key) {
            Ok(slug) => identity.tenant_by_slug(&slug).await?,
            Err(_) => None,
        },
    };
    found.with_context(|| format!("no tenant with id or slug {key:?}"))
}

/// Writes the tenant, its members and roles, then its rows, as JSON lines.
///
/// # Errors
/// An unknown tenant, or reading or writing failing.
pub async fn export(settings: &Settings, key: &str) -> anyhow::Result<()> {
    let platform = platform(settings).await?;
    let tenant = find(&platform, key).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let rows = platform.lifecycle().export(&tenant, &mut out).await?;
    out.flush()?;
    eprintln!(
        "exported tenant {} ({}): {rows} row(s)",
        tenant.slug, tenant.id
    );
    Ok(())
}

/// Provisions a tenant for an existing user.
///
/// # Errors
/// A bad slug, name or strategy, an unknown owner, a taken slug, or
/// provisioning failing (nothing is left then).
pub async fn create(
    settings: &Settings,
    slug: &str,
    name: &str,
    owner: &str,
    isolation: Option<&str>,
) -> anyhow::Result<()> {
    let isolation = match isolation {
        Some(i) => i
            .parse()
            .map_err(|_| anyhow::anyhow!("--isolation must be row, schema or database"))?,
        None => settings.tenancy.default_isolation,
    };
    let tenant = domain::ports::NewTenant {
        slug: domain::values::TenantSlug::parse(slug)
            .map_err(|e| anyhow::anyhow!("slug: {}", e.0))?,
        name: domain::values::TenantName::parse(name)
            .map_err(|e| anyhow::anyhow!("--name: {}", e.0))?,
        isolation,
        fixture: false,
    };
    let email =
        domain::values::Email::parse(owner).map_err(|e| anyhow::anyhow!("--owner: {}", e.0))?;
    // Other nodes learn of the owner's membership through the change feed.
    let identity = platform(settings).await?.identity();
    let (user, _) = identity
        .credentials(&email)
        .await?
        .with_context(|| format!("no account with the email {owner}"))?;
    let made = identity.create_tenant(user.id, &tenant).await?;
    println!(
        "created tenant {} ({}), isolation {}, owned by {owner}",
        made.slug, made.id, made.isolation
    );
    Ok(())
}

/// Moves a tenant to another strategy and prints what was copied.
///
/// # Errors
/// An unknown tenant or strategy, or the move failing (the tenant then
/// stays where it was).
pub async fn move_tenant(
    settings: &Settings,
    key: &str,
    to: &str,
    server: Option<&str>,
) -> anyhow::Result<()> {
    let to: domain::Isolation = to
        .parse()
        .map_err(|_| anyhow::anyhow!("--to must be row, schema or database"))?;
    let platform = platform(settings).await?;
    let tenant = find(&platform, key).await?;
    let plan = domain::moves::MovePlan {
        to,
        server: server.map(str::to_owned),
        actor: None,
    };
    let bar = MoveBar(
        ProgressBar::new(0).with_style(
            ProgressStyle::with_template("{spinner} {msg} {bar:30} {pos}/{len} tables")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
    );
    let report = platform
        .lifecycle()
        .move_with(tenant.id, &plan, &bar)
        .await
        .with_context(|| format!("moving tenant {} ({})", tenant.slug, tenant.id));
    bar.0.finish_and_clear();
    let report = report?;
    let rows: Vec<String> = report
        .rows
        .iter()
        .map(|(table, n)| format!("{n} {table}"))
        .collect();
    tell_nodes(&platform).await;
    println!(
        "moved tenant {} ({}) from {} to {} ({}): {}",
        tenant.slug,
        tenant.id,
        report.from,
        report.to,
        report.placement,
        rows.join(", ")
    );
    Ok(())
}

/// A move's progress on the terminal.
struct MoveBar(ProgressBar);

impl domain::moves::MoveProgress for MoveBar {
    fn report(&self, p: domain::moves::Progress) {
        self.0.set_length(u64::from(p.tables_total));
        self.0.set_position(u64::from(p.tables_done));
        self.0
            .set_message(format!("{}: {} rows", p.phase.as_str(), p.rows_copied));
        self.0.tick();
    }
}

/// Wakes the running nodes' change-feed readers (see
/// [`Platform::tell_nodes`]); a failure is a note, as their poll still comes.
async fn tell_nodes(platform: &Platform) {
    if let Err(e) = platform.tell_nodes().await {
        eprintln!(
            "note: could not tell the running nodes over Redis ({e:#}); they follow within authz.poll_interval_ms"
        );
    }
}

/// Lists (and with `yes` removes) storage no tenant owns.
///
/// # Errors
/// When the catalog cannot be read or a removal fails.
pub async fn gc(settings: &Settings, yes: bool, min_age_minutes: u64) -> anyhow::Result<()> {
    let platform = platform(settings).await?;
    let lifecycle = platform.lifecycle();
    let orphans = lifecycle
        .orphans(std::time::Duration::from_secs(min_age_minutes * 60))
        .await?;
    let mut removed = 0;
    for o in &orphans {
        if !yes {
            println!("orphan: {o}");
        } else if lifecycle.remove_orphan(o).await? {
            removed += 1;
            println!("removed {o}");
        } else {
            println!("left alone (its tenant owns it or is moving): {o}");
        }
    }
    match (orphans.len(), yes) {
        (0, _) => println!("no orphans older than {min_age_minutes} min"),
        (n, false) => println!("{n} orphan(s); run again with --yes to remove them"),
        (n, true) => println!("{removed} of {n} orphan(s) removed"),
    }
    Ok(())
}

/// Deletes a tenant and everything it owns, leaving an audit record.
///
/// # Errors
/// Without `--yes`, an unknown tenant, or the deletion failing.
pub async fn delete(settings: &Settings, key: &str, yes: bool) -> anyhow::Result<()> {
    let platform = platform(settings).await?;
    let tenant = find(&platform, key).await?;
    if !yes {
        anyhow::bail!(
            "this deletes tenant {} ({}) and all its data; run again with --yes",
            tenant.slug,
            tenant.id
        );
    }
    // Other nodes drop its authorization lines through the change feed.
    let rows = platform.lifecycle().delete(&tenant).await?;
    tell_nodes(&platform).await;
    println!(
        "deleted tenant {} ({}, {}): {rows} tenant-plane row(s), its members, sessions and roles",
        tenant.slug, tenant.id, tenant.isolation
    );
    Ok(())
}

/// Shows a tenant's own request rates, after setting those given (`0` puts
/// one back to its plan's). Every node applies a change through the change
/// feed, within `authz.poll_interval_ms` (at once with Redis).
///
/// # Errors
/// An unknown tenant, or when the database cannot be written.
pub async fn rates(
    settings: &Settings,
    key: &str,
    tenant_work: Option<u32>,
    per_user: Option<u32>,
) -> anyhow::Result<()> {
    use domain::ports::TenantRates as _;
    let platform = platform(settings).await?;
    let tenant = find(&platform, key).await?;
    let store = platform.tenant_rates();
    let mut rates = store.request_rates(tenant.id).await?;
    if tenant_work.is_some() || per_user.is_some() {
        let own = |v: Option<u32>, old: Option<u32>| v.map_or(old, |n| (n > 0).then_some(n));
        rates.tenant_work = own(tenant_work, rates.tenant_work);
        rates.per_user = own(per_user, rates.per_user);
        store.set_request_rates(tenant.id, rates).await?;
    }
    let plans = crate::plans::catalog(settings)?;
    let plan = plans.entitlements(&domain::plan::Terms {
        plan: tenant.terms.plan.clone(),
        ..Default::default()
    });
    let show = |v: Option<u32>, default: u32| match v {
        Some(n) => format!("{n}/s (its own)"),
        None => format!("{default}/s (plan {})", plan.plan),
    };
    println!(
        "tenant {} ({}): database work {}, per member {}",
        tenant.slug,
        tenant.id,
        show(rates.tenant_work, plan.limits.tenant_work_per_second),
        show(rates.per_user, plan.limits.user_per_second),
    );
    Ok(())
}
