//! The plan catalog from configuration (`[plans]`): named sets of limits and
//! features. A limit a plan leaves out is the deployment's own: the per-tenant
//! request rates of `[rate_limit.requests]`, the per-tenant subscription and
//! socket caps of `[subscriptions]`, and the stored-data limits of `[plans]`.

use crate::config::Settings;
use domain::plan::{Feature, Limits, Plan, PlanName, Plans};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
pub struct PlanSettings {
    /// The plan of every tenant an operator has not given another.
    pub default: String,
    /// Members (pending invitations included) one tenant may have.
    pub members: u32,
    /// Projects (deleted ones included until purged).
    pub projects: u32,
    /// Tasks (of deleted projects included until purged).
    pub tasks: u32,
    pub webhooks: u32,
    #[serde(default)]
    pub catalog: BTreeMap<String, PlanEntry>,
}

/// One plan: every field left out is the deployment's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanEntry {
    pub tenant_work_per_second: Option<u32>,
    pub user_per_second: Option<u32>,
    pub members: Option<u32>,
    pub projects: Option<u32>,
    pub tasks: Option<u32>,
    pub webhooks: Option<u32>,
    pub subscriptions: Option<u32>,
    pub sockets: Option<u32>,
    #[serde(default)]
    pub features: Vec<String>,
}

fn capped(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The catalog the configuration describes.
///
/// # Errors
/// A bad plan or feature name, a limit of 0, or a default plan the catalog
/// does not have.
pub fn catalog(s: &Settings) -> anyhow::Result<Plans> {
    let p = &s.plans;
    let base = Limits {
        tenant_work_per_second: s.rate_limit.requests.tenant_work_per_second,
        user_per_second: s.rate_limit.requests.user_per_second,
        members: p.members,
        projects: p.projects,
        tasks: p.tasks,
        webhooks: p.webhooks,
        subscriptions: capped(s.subscriptions.max_per_tenant),
        sockets: capped(s.subscriptions.max_sockets_per_tenant),
    };
    let bad = |what: &str, name: &str| {
        anyhow::anyhow!(
            "configuration: plans: {what} {name:?}: 1-40 lowercase letters, digits, '-' or '_', starting with a letter"
        )
    };
    let mut plans = Vec::new();
    for (name, e) in &p.catalog {
        let limits = Limits {
            tenant_work_per_second: e
                .tenant_work_per_second
                .unwrap_or(base.tenant_work_per_second),
            user_per_second: e.user_per_second.unwrap_or(base.user_per_second),
            members: e.members.unwrap_or(base.members),
            projects: e.projects.unwrap_or(base.projects),
            tasks: e.tasks.unwrap_or(base.tasks),
            webhooks: e.webhooks.unwrap_or(base.webhooks),
            subscriptions: e.subscriptions.unwrap_or(base.subscriptions),
            sockets: e.sockets.unwrap_or(base.sockets),
        };
        let all = [
            limits.tenant_work_per_second,
            limits.user_per_second,
            limits.members,
            limits.projects,
            limits.tasks,
            limits.webhooks,
            limits.subscriptions,
            limits.sockets,
        ];
        if all.contains(&0) {
            anyhow::bail!("configuration: plans.catalog.{name}: every limit must be at least 1");
        }
        plans.push(Plan {
            name: PlanName::parse(name).map_err(|_| bad("plan", name))?,
            limits,
            features: e
                .features
                .iter()
                .map(|f| Feature::parse(f).map_err(|_| bad("feature", f)))
                .collect::<anyhow::Result<_>>()?,
        });
    }
    let default = PlanName::parse(&p.default).map_err(|_| bad("plan", &p.default))?;
    Plans::new(default, plans).map_err(|e| anyhow::anyhow!("configuration: plans: {e}"))
}
