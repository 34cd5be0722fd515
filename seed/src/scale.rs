//! Scale data for benchmarks: many tenants, each with an owner, projects and
//! tasks, loaded with batched inserts (one transaction per tenant).

use chrono::{Duration, Utc};
use domain::identity::RoleName;
use domain::ports::{IdentityStore, NewTenant};
use domain::project::Project;
use domain::task::{Task, TaskStatus};
use domain::values::{
    Description, DisplayName, DueDate, Email, Priority, ProjectName, TaskTitle, TenantName,
    TenantSlug,
};
use domain::{Isolation, ProjectId, TaskId, TenantContext, TenantId, UserId};
use infra::db::Storage;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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
    storage: &Storage,
    spec: ScaleSpec,
    run: &str,
    password_hash: &str,
    mut progress: impl FnMut(usize),
) -> domain::Result<Vec<ScaleTenant>> {
    let identity = storage.identity();
    let tenancy = storage.tenancy();
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let statuses = [TaskStatus::Todo, TaskStatus::InProgress, TaskStatus::Done];
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

        let base = Utc::now() - Duration::days(30);
        let mut projects = Vec::with_capacity(spec.projects_per_tenant);
        let mut tasks = Vec::with_capacity(spec.projects_per_tenant * spec.tasks_per_project);
        for p in 0..spec.projects_per_tenant {
            let at = base + Duration::seconds(p as i64);
            let project = Project {
                id: ProjectId::generate(),
                tenant_id: tenant.id,
                name: ProjectName::parse(&format!("Project {p}")).expect("valid"),
                description: Description::parse("Scale data").expect("valid"),
                created_at: at,
                updated_at: at,
                deleted_at: None,
                version: 1,
            };
            for k in 0..spec.tasks_per_project {
                let at = base + Duration::seconds((p * spec.tasks_per_project + k) as i64);
                tasks.push(Task {
                    id: TaskId::generate(),
                    tenant_id: tenant.id,
                    project_id: project.id,
                    title: TaskTitle::parse(&format!("Task {k} of project {p}")).expect("valid"),
                    description: Description::parse("").expect("valid"),
                    status: statuses[rng.gen_range(0..statuses.len())],
                    priority: Priority::parse(rng.gen_range(0..=4)).expect("valid"),
                    assignee_id: rng.gen_bool(0.8).then(|| assignees[rng.gen_range(0..2)]),
                    due_date: rng.gen_bool(0.5).then(|| {
                        DueDate::new((base + Duration::days(rng.gen_range(0..120))).date_naive())
                            .expect("valid")
                    }),
                    created_at: at,
                    updated_at: at,
                    version: 1,
                });
            }
            projects.push(project);
        }
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
