//! The demo tenant `cargo run` seeds on first start, so the playground has data at once.

use domain::auth::{Auth, SignUpInput};
use domain::identity::RoleName;
use domain::ports::{IdentityStore, Tenancy};
use domain::project::ProjectInput;
use domain::project::Projects;
use domain::task::Tasks;
use domain::task::{TaskInput, TaskStatus};
use domain::values::{DisplayName, Email, Password, TenantSlug};
use domain::{Result, TenantContext};

pub const TENANT_SLUG: &str = "demo";
/// Both demo users share it; it is printed at start-up and in the README.
pub const PASSWORD: &str = "demo-password";

/// A demo login, as printed for the developer.
#[derive(Debug, Clone)]
pub struct Login {
    pub email: &'static str,
    pub role: &'static str,
}

pub const LOGINS: [Login; 2] = [
    Login {
        email: "owner@demo.test",
        role: RoleName::OWNER,
    },
    Login {
        email: "member@demo.test",
        role: RoleName::MEMBER,
    },
];

/// A demo task: title, status, priority.
type PlannedTask = (&'static str, TaskStatus, i32);

/// The demo tenant is signed up like any other, so it lives in the auth's
/// tenant policy's default strategy.
pub struct Ports<'a> {
    pub auth: Auth<'a>,
    pub tenancy: &'a dyn Tenancy,
}

impl<'a> Ports<'a> {
    pub fn from_auth(auth: Auth<'a>, tenancy: &'a dyn Tenancy) -> Self {
        Self { auth, tenancy }
    }
}

/// Whether the demo tenant exists.
///
/// # Errors
/// When the store fails.
pub async fn exists(identity: &dyn IdentityStore) -> Result<bool> {
    let slug = TenantSlug::parse(TENANT_SLUG).expect("valid slug");
    Ok(identity.tenant_by_slug(&slug).await?.is_some())
}

/// Creates the demo tenant: an owner, a member, three projects with tasks.
///
/// # Errors
/// When a write fails (for example, the demo emails are taken).
pub async fn seed(p: &Ports<'_>) -> Result<()> {
    let owner = p
        .auth
        .sign_up(
            SignUpInput {
                email: LOGINS[0].email.into(),
                password: PASSWORD.into(),
                display_name: "Olivia Owner".into(),
                tenant_name: "Demo Co".into(),
                tenant_slug: TENANT_SLUG.into(),
                isolation: None,
            },
            None,
        )
        .await?;
    let hash = p
        .auth
        .hasher
        .hash(&Password::parse(PASSWORD).expect("valid password"))
        .await?;
    let member = p
        .auth
        .identity
        .create_user(
            &Email::parse(LOGINS[1].email).expect("valid email"),
            &hash,
            &DisplayName::parse("Max Member").expect("valid name"),
        )
        .await?;
    p.auth
        .identity
        .add_membership(owner.tenant.id, member.id, &RoleName::new(RoleName::MEMBER))
        .await?;

    let ctx = TenantContext::system(owner.tenant.id, owner.tenant.isolation);
    let projects = Projects {
        tenancy: p.tenancy,
        ctx: &ctx,
    };
    let task_cases = Tasks {
        tenancy: p.tenancy,
        identity: p.auth.identity,
        ctx: &ctx,
    };
    let plan: [(&str, &str, &[PlannedTask]); 3] = [
        (
            "Website launch",
            "Ship the new marketing site",
            &[
                ("Write landing page copy", TaskStatus::Done, 2),
                ("Design hero image", TaskStatus::InProgress, 3),
                ("Set up analytics", TaskStatus::Todo, 1),
                ("Load test the signup flow", TaskStatus::Todo, 4),
            ],
        ),
        (
            "Mobile app",
            "iOS and Android clients",
            &[
                ("Sketch onboarding screens", TaskStatus::InProgress, 2),
                ("Pick a push notification provider", TaskStatus::Todo, 1),
                ("Beta test with ten customers", TaskStatus::Todo, 3),
            ],
        ),
        (
            "Q3 planning",
            "Goals and budget for next quarter",
            &[
                ("Collect team goals", TaskStatus::Done, 1),
                ("Draft budget", TaskStatus::Todo, 2),
            ],
        ),
    ];
    for (i, (name, description, tasks)) in plan.iter().enumerate() {
        let project = projects
            .create_project(
                &ProjectInput {
                    name: (*name).into(),
                    description: Some((*description).into()),
                },
                None,
            )
            .await?;
        for (j, (title, status, priority)) in tasks.iter().enumerate() {
            let assignee = if (i + j) % 2 == 0 {
                owner.user.id
            } else {
                member.id
            };
            let due = format!("2026-12-{:02}", 1 + (i * 7 + j * 3) % 28);
            task_cases
                .create_task(
                    &TaskInput {
                        project_id: Some(project.id),
                        title: (*title).into(),
                        description: None,
                        status: Some(*status),
                        priority: Some(*priority),
                        assignee_id: Some(assignee),
                        due_date: Some(due),
                    },
                    None,
                )
                .await?;
        }
    }
    Ok(())
}
