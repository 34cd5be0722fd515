//! Scale data for benchmarks: many tenants, each with an owner, projects and
//! tasks, loaded with batched inserts (one transaction per tenant).

use crate::generate::{Shape, projects_and_tasks};
use chrono::{Duration, Utc};
use domain::identity::RoleName;
use domain::ports::NewTenant;
use domain::ports::{Accounts, Directory, Memberships};
use domain::values::{DisplayName, Email, TenantName, TenantSlug};
use domain::{Isolation, ProjectId, TenantContext, TenantId, UserId};
use infra::platform::Platform;
use rand::SeedableRng;
use rand::rngs::StdRng;

#[derive(Debug, Clone, Copy)]
pub struct ScaleSpec {
    pub tenants: usize,
    pub projects_per_tenant: usize,
    pub tasks_per_project: usize,
    /// Same number, same data (apart from ids and timestamps).
    pub seed: u64,
}

/// What was loaded, for the benchmark to query.
#[derive(Debug, Clone)]
pub struct ScaleTenant {
    pub tenant_id: TenantId,
    pub owner_email: String,
    pub project_ids: Vec<ProjectId>,
}

/// Loads the data set. `password_hash` is stored for every owner (hash once,
/// not once per user); `progress` is called after each tenant.
///
/// # Errors
/// When a write fails; tenants loaded before it stay.
pub async fn load(
    platform: &Platform,
    spec: ScaleSpec,
    run: &str,
    password_hash: &str,
    mut progress: impl FnMut(usize),
) -> domain::Result<Vec<ScaleTenant>> {
    let identity = platform.identity();
    let tenancy = platform.tenancy();
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut out = Vec::with_capacity(spec.tenants);
    for t in 0..spec.tenants {
        let email = format!("owner{t}-{run}@scale.test");
        let owner = identity
            .create_user(
                &Email::parse(&email).expect("valid"),
                password_hash,
                &DisplayName::parse(&format!("Owner {t}")).expect("valid"),
            )
            .await?;
        let tenant = identity
            .create_tenant(
                owner.id,
                &NewTenant {
                    name: TenantName::parse(&format!("Scale {t}")).expect("valid"),
                    slug: TenantSlug::parse(&format!("s{t}-{run}")).expect("valid"),
                    isolation: Isolation::Row,
                    fixture: false,
                },
            )
            .await?;
        let member = identity
            .create_user(
                &Email::parse(&format!("member{t}-{run}@scale.test")).expect("valid"),
                password_hash,
                &DisplayName::parse(&format!("Member {t}")).expect("valid"),
            )
            .await?;
        identity
            .add_membership(tenant.id, member.id, &RoleName::new(RoleName::MEMBER))
            .await?;
        let assignees: [UserId; 2] = [owner.id, member.id];

        let (projects, tasks) = projects_and_tasks(
            &mut rng,
            tenant.id,
            &Shape {
                projects: spec.projects_per_tenant,
                tasks_per_project: spec.tasks_per_project,
                start: Utc::now() - Duration::days(30),
                step: Duration::seconds(1),
                assignees: &assignees,
                assigned: 0.8,
            },
        );
        let ctx = TenantContext::system(tenant.id, tenant.isolation);
        tenancy.bulk_insert(&ctx, &projects, &tasks).await?;
        out.push(ScaleTenant {
            tenant_id: tenant.id,
            owner_email: email,
            project_ids: projects.iter().map(|p| p.id).collect(),
        });
        progress(t + 1);
    }
    Ok(out)
}
