//! Tenant fixtures for test suites: a fresh tenant with users of given roles
//! (each with a password and ready tokens), projects and tasks, in one call.
//!
//! Fast by construction: one password hash per fixture (with cheap argon2
//! parameters: fixture users are throwaway; a stored hash carries its own
//! parameters, so they still sign in normally), and projects and tasks written
//! with batched inserts in one transaction.

use crate::generate::{Shape, projects_and_tasks};
use chrono::{Duration, Utc};
use domain::audit::{AuditAction, AuditRecord};
use domain::auth::Auth;
use domain::authz::{Permission, Role};
use domain::identity::{RoleName, Tenant};
use domain::ports::{AccessStore, NewTenant, PasswordHasher};
use domain::values::{DisplayName, Email, Password, TenantName, TenantSlug};
use domain::{
    Error, FieldError, Isolation, ProjectId, Result, TaskId, TenantContext, TenantId, UserId,
};
use infra::password::{Argon2Hasher, Argon2Params};
use infra::tenancy::SqlTenancy;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What to build. Limits keep one request from building a data set.
#[derive(Debug, Clone)]
pub struct FixtureSpec {
    pub isolation: Isolation,
    /// One user per entry, with that role: a default one or one of `custom_roles`.
    pub roles: Vec<String>,
    /// Custom roles to make in the tenant first.
    pub custom_roles: Vec<CustomRoleSpec>,
    pub projects: usize,
    pub tasks_per_project: usize,
    /// The same seed gives the same names, statuses and priorities.
    pub seed: Option<u64>,
}

/// A custom role of a fixture tenant.
#[derive(Debug, Clone)]
pub struct CustomRoleSpec {
    pub name: String,
    pub permissions: Vec<String>,
}

impl CustomRoleSpec {
    fn role(&self, i: usize, errors: &mut Vec<FieldError>) -> Option<Role> {
        let name = RoleName::parse_custom(&self.name)
            .map_err(|e| errors.push(FieldError::new(format!("roles[{i}].name"), e.0)))
            .ok();
        let mut permissions = Vec::new();
        for p in &self.permissions {
            match Permission::parse(p) {
                Some(p) => permissions.push(p),
                None => errors.push(FieldError::new(
                    format!("roles[{i}].permissions"),
                    format!("unknown permission {p}"),
                )),
            }
        }
        if self.permissions.is_empty() {
            errors.push(FieldError::new(
                format!("roles[{i}].permissions"),
                "give at least one permission",
            ));
        }
        name.map(|n| Role::new(n, permissions))
    }
}

impl FixtureSpec {
    pub const MAX_USERS: usize = 20;
    pub const MAX_PROJECTS: usize = 100;
    pub const MAX_TASKS_PER_PROJECT: usize = 500;

    /// The custom roles to make, or every reason the spec is refused.
    fn check(&self) -> Result<Vec<Role>> {
        let mut errors = Vec::new();
        let custom: Vec<Role> = self
            .custom_roles
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.role(i, &mut errors))
            .collect();
        if self.roles.is_empty() || self.roles.len() > Self::MAX_USERS {
            errors.push(FieldError::new(
                "users",
                format!("give 1 to {} users", Self::MAX_USERS),
            ));
        }
        for (i, role) in self.roles.iter().enumerate() {
            if ![
                RoleName::OWNER,
                RoleName::ADMIN,
                RoleName::MEMBER,
                RoleName::VIEWER,
            ]
            .contains(&role.as_str())
                && !custom.iter().any(|c| c.name.as_str() == role)
            {
                errors.push(FieldError::new(
                    format!("users[{i}].role"),
                    "must be owner, admin, member, viewer or one of roles",
                ));
            }
        }
        if self.projects > Self::MAX_PROJECTS {
            errors.push(FieldError::new(
                "projects",
                format!("at most {}", Self::MAX_PROJECTS),
            ));
        }
        if self.tasks_per_project > Self::MAX_TASKS_PER_PROJECT {
            errors.push(FieldError::new(
                "tasksPerProject",
                format!("at most {}", Self::MAX_TASKS_PER_PROJECT),
            ));
        }
        if errors.is_empty() {
            Ok(custom)
        } else {
            Err(Error::Invalid(errors))
        }
    }
}

#[derive(Debug, Clone)]
pub struct FixtureUser {
    pub id: UserId,
    pub email: String,
    pub password: String,
    pub role: String,
    pub access_token: String,
    pub refresh_token: String,
}

#[derive(Debug, Clone)]
pub struct FixtureProject {
    pub id: ProjectId,
    pub name: String,
    pub task_ids: Vec<TaskId>,
}

#[derive(Debug, Clone)]
pub struct Fixture {
    pub tenant: Tenant,
    pub users: Vec<FixtureUser>,
    pub projects: Vec<FixtureProject>,
}

/// Builds and removes fixture tenants.
pub struct Fixtures<'a> {
    pub auth: Auth<'a>,
    pub access: &'a dyn AccessStore,
    pub tenancy: &'a SqlTenancy,
}

const EMAIL_DOMAIN: &str = "fixtures.tenantry.test";

fn random_tag(rng: &mut impl Rng, n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

impl Fixtures<'_> {
    /// # Errors
    /// [`Error::Invalid`] for a spec out of bounds; storage errors otherwise.
    pub async fn create(&self, spec: &FixtureSpec) -> Result<Fixture> {
        let custom_roles = spec.check()?;
        // Names follow the seed; what must be unique (slug, emails, password) does not.
        let mut data = StdRng::seed_from_u64(spec.seed.unwrap_or_else(rand::random));
        let mut fresh = StdRng::from_entropy();
        let tag = random_tag(&mut fresh, 12);
        let password = format!("fx-{}", random_tag(&mut fresh, 20));
        let cheap = Argon2Hasher::new(Argon2Params {
            memory_kib: 64,
            iterations: 1,
            lanes: 1,
        })?;
        let hash = cheap
            .hash(&Password::parse(&password).expect("a long enough password"))
            .await?;

        let identity = self.auth.identity;
        let mut created = Vec::with_capacity(spec.roles.len());
        for (i, role) in spec.roles.iter().enumerate() {
            let email = format!("{role}{i}-{tag}@{EMAIL_DOMAIN}");
            let name =
                DisplayName::parse(&format!("{} {}", capitalise(role), i + 1)).expect("valid");
            let user = identity
                .create_user(&Email::parse(&email).expect("valid"), &hash, &name)
                .await?;
            created.push((user, role.clone(), email));
        }
        let (first, first_role, _) = &created[0];
        let tenant = identity
            .create_tenant(
                first.id,
                &NewTenant {
                    name: TenantName::parse(&format!("Fixture {tag}")).expect("valid"),
                    slug: TenantSlug::parse(&format!("fx-{tag}")).expect("valid"),
                    isolation: spec.isolation,
                    fixture: true,
                },
            )
            .await?;
        let ctx = TenantContext::system(tenant.id, tenant.isolation);
        for role in &custom_roles {
            let audit = AuditRecord {
                action: AuditAction::RoleCreated,
                target: format!("role:{}", role.name),
                before: None,
                after: Some(role.audit_state()),
            };
            self.access.create_role(&ctx, role, &audit).await?;
        }
        if first_role != RoleName::OWNER {
            identity
                .set_membership_role(tenant.id, first.id, &RoleName::new(first_role.as_str()))
                .await?;
        }
        for (user, role, _) in &created[1..] {
            identity
                .add_membership(tenant.id, user.id, &RoleName::new(role.as_str()))
                .await?;
        }

        let assignees: Vec<UserId> = created.iter().map(|(u, _, _)| u.id).collect();
        let shape = Shape {
            projects: spec.projects,
            tasks_per_project: spec.tasks_per_project,
            start: Utc::now() - Duration::hours(1),
            step: Duration::milliseconds(1),
            assignees: &assignees,
            assigned: 1.0,
        };
        let (projects, tasks) = projects_and_tasks(&mut data, tenant.id, &shape);
        self.tenancy.bulk_insert(&ctx, &projects, &tasks).await?;

        let mut users = Vec::with_capacity(created.len());
        for (user, role, email) in created {
            let id = user.id;
            let signed = self.auth.session_for_fixture(user, tenant.clone()).await?;
            users.push(FixtureUser {
                id,
                email,
                password: password.clone(),
                role,
                access_token: signed.access.token,
                refresh_token: signed.refresh.0,
            });
        }
        let projects = projects
            .iter()
            .map(|p| FixtureProject {
                id: p.id,
                name: p.name.as_str().to_owned(),
                task_ids: tasks
                    .iter()
                    .filter(|t| t.project_id == p.id)
                    .map(|t| t.id)
                    .collect(),
            })
            .collect();
        Ok(Fixture {
            tenant,
            users,
            projects,
        })
    }

    /// Removes a fixture tenant and everything it owns: its tenant-plane rows,
    /// its memberships and sessions, and fixture users left without a tenant.
    /// Returns whether it existed; a tenant not made by [`Self::create`] is
    /// left alone and answered as absent, so a fixtures secret deletes no
    /// customer's tenant.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn delete(&self, tenant_id: TenantId) -> Result<bool> {
        let identity = self.auth.identity;
        let tenant = match identity.tenant(tenant_id).await {
            Ok(t) if t.fixture => t,
            Ok(_) | Err(Error::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        // Fixture users go with their tenant; anyone else keeps their account.
        let mut fixture_users = Vec::new();
        for id in identity.member_ids(tenant.id).await? {
            if identity
                .user(id)
                .await?
                .email
                .as_str()
                .ends_with(&format!("@{EMAIL_DOMAIN}"))
            {
                fixture_users.push(id);
            }
        }
        domain::lifecycle::delete_tenant(self.tenancy, identity, &tenant).await?;
        identity
            .delete_users_without_tenants(&fixture_users)
            .await?;
        Ok(true)
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
