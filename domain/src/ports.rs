//! Ports: what the domain needs from the outside world. Adapters live in `infra`.
//!
//! Every tenant-plane port hangs off a [`TenantTx`], and the only way to get one
//! is [`Tenancy::begin`] with a [`TenantContext`]: there is no tenant-plane call
//! without a tenant.

use crate::audit::{AuditEntry, AuditRecord};
use crate::authz::Role;
use crate::error::Result;
use crate::events::Event;
use crate::identity::{
    AccessClaims, IssuedToken, Membership, RefreshToken, RoleName, Tenant, User,
};
use crate::ids::{DeliveryId, ProjectId, SessionId, TaskId, TenantId, UserId, WebhookId};
use crate::invitation::{Delivery, EmailStatus, Invitation, OutgoingEmail};
use crate::page::{Page, PageQuery};
use crate::project::{NewProject, Project, ProjectFilter, ProjectOrderField, ProjectPatch};
use crate::task::{NewTask, Task, TaskFilter, TaskOrderField, TaskPatch};
use crate::tenancy::{Isolation, TenantContext};
use crate::values::{DisplayName, Email, IdempotencyKey, Password, TenantName, TenantSlug};
use crate::webhook::{DeliveryFilter, DeliveryOrder, NewWebhook, Webhook, WebhookDelivery};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Whether a transaction will write. Lets adapters take write locks up front
/// (SQLite `BEGIN IMMEDIATE`) instead of failing on a lock upgrade later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxMode {
    Read,
    Write,
}

/// Opens tenant-plane transactions, bound to the context's tenant by the
/// adapter for the tenant's isolation strategy.
#[async_trait]
pub trait Tenancy: Send + Sync {
    /// Begins a transaction in which every query is confined to `ctx`'s tenant.
    ///
    /// # Errors
    /// [`crate::Error::Unexpected`] when storage is unreachable.
    async fn begin(&self, ctx: &TenantContext, mode: TxMode) -> Result<Box<dyn TenantTx>>;
}

/// A transaction bound to one tenant. Dropping it without [`TenantTx::commit`]
/// rolls back, so an error half-way leaves nothing written.
#[async_trait]
pub trait TenantTx:
    ProjectRepository
    + TaskRepository
    + InvitationRepository
    + OutboxRepository
    + WebhookRepository
    // generate: repositories
    + Send
    + Sync
{
    fn context(&self) -> &TenantContext;

    /// Rows of `what` this tenant stores (deleted ones included until they
    /// are purged), counted up to `up_to`.
    async fn stored(&self, what: crate::plan::Stored, up_to: u32) -> Result<u64>;

    /// Whether this tenant stores at most `max` of `what`, for a limit. An
    /// adapter may answer from its own recent count while the tenant is far
    /// below `max` (counting is an index scan of up to `max` entries); near
    /// it, it counts.
    async fn within(&self, what: crate::plan::Stored, max: u32) -> Result<bool>;

    /// Makes other transactions that take this lock for `what` wait until this
    /// one ends, so a create and its count cannot interleave with another's.
    async fn lock_stored(&self, what: crate::plan::Stored) -> Result<()>;

    /// Makes other invitations of this tenant wait until this transaction
    /// ends, so a count of its members-to-be and the invitation it admits
    /// cannot interleave with another's.
    async fn lock_invitations(&self) -> Result<()>;

    /// Deletes every tenant-plane row of this tenant (tasks, projects,
    /// invitations, idempotency keys). Returns how many rows went.
    async fn purge(&self) -> Result<u64>;

    /// # Errors
    /// [`crate::Error::Unexpected`] when the commit fails; nothing was written.
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// What a create led to: a new row, or, for a retried idempotency key, the
/// row the first attempt made (which must not be announced twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created<T> {
    New(T),
    Replayed(T),
}

impl<T> Created<T> {
    pub fn into_inner(self) -> T {
        match self {
            Created::New(t) | Created::Replayed(t) => t,
        }
    }
}

/// Projects of the transaction's tenant.
///
/// # Errors (every method)
/// [`crate::Error::NotFound`] for an id that is not a live project of this
/// tenant; [`crate::Error::Unexpected`] for storage failures.
#[async_trait]
pub trait ProjectRepository {
    /// Inserts a project. With a key already used for the same input, returns
    /// the project created then; with different input, [`crate::Error::Conflict`].
    async fn create_project(
        &self,
        new: &NewProject,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<Project>>;
    async fn project(&self, id: ProjectId) -> Result<Project>;
    /// Live projects among `ids`, in no particular order; unknown ids are skipped.
    async fn projects_by_ids(&self, ids: &[ProjectId]) -> Result<Vec<Project>>;
    async fn list_projects(
        &self,
        filter: &ProjectFilter,
        page: &PageQuery<ProjectOrderField>,
    ) -> Result<Page<Project>>;
    async fn count_projects(&self, filter: &ProjectFilter) -> Result<u64>;
    /// # Errors
    /// [`crate::Error::Conflict`] when `expected_version` is not the current version.
    async fn update_project(
        &self,
        id: ProjectId,
        patch: &ProjectPatch,
        expected_version: i32,
    ) -> Result<Project>;
    /// Soft delete: the project and its tasks disappear from queries until restored.
    async fn delete_project(&self, id: ProjectId) -> Result<()>;
    /// Undoes [`ProjectRepository::delete_project`]. `NotFound` unless the project is deleted.
    async fn restore_project(&self, id: ProjectId) -> Result<Project>;
}

/// Tasks of the transaction's tenant. Tasks of a deleted project are hidden.
///
/// # Errors (every method)
/// As [`ProjectRepository`].
#[async_trait]
pub trait TaskRepository {
    /// # Errors
    /// [`crate::Error::NotFound`] when the project is not a live project of
    /// this tenant; idempotency as for projects.
    async fn create_task(
        &self,
        new: &NewTask,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<Task>>;
    async fn task(&self, id: TaskId) -> Result<Task>;
    async fn tasks_by_ids(&self, ids: &[TaskId]) -> Result<Vec<Task>>;
    async fn list_tasks(
        &self,
        filter: &TaskFilter,
        page: &PageQuery<TaskOrderField>,
    ) -> Result<Page<Task>>;
    /// [`Self::list_tasks`] and the page's assignees (members of this
    /// tenant), in one query where the tenant's tables and the members sit in
    /// one database; `None` for the assignees where they do not.
    async fn list_tasks_with_assignees(
        &self,
        filter: &TaskFilter,
        page: &PageQuery<TaskOrderField>,
    ) -> Result<(Page<Task>, Option<Vec<User>>)> {
        Ok((self.list_tasks(filter, page).await?, None))
    }
    async fn count_tasks(&self, filter: &TaskFilter) -> Result<u64>;
    async fn update_task(
        &self,
        id: TaskId,
        patch: &TaskPatch,
        expected_version: i32,
    ) -> Result<Task>;
    async fn delete_task(&self, id: TaskId) -> Result<()>;
}

/// The outbox of the transaction's tenant.
#[async_trait]
pub trait OutboxRepository {
    /// Records an event. It is delivered once this transaction commits, and
    /// never if it does not.
    async fn record_event(&self, event: &Event) -> Result<()>;
}

/// Webhooks of the transaction's tenant and their deliveries.
///
/// # Errors (every method)
/// [`crate::Error::NotFound`] for an id that is not this tenant's.
#[async_trait]
pub trait WebhookRepository {
    /// Makes other transactions that take this lock wait until this one
    /// ends, so a count followed by a create cannot interleave with another.
    async fn lock_webhooks(&self) -> Result<()>;
    async fn create_webhook(&self, new: &NewWebhook) -> Result<Webhook>;
    /// Oldest first.
    async fn webhooks(&self) -> Result<Vec<Webhook>>;
    /// Deletes the webhook and its deliveries; returns whether it existed.
    async fn delete_webhook(&self, id: WebhookId) -> Result<bool>;
    /// Newest first.
    async fn deliveries(
        &self,
        filter: &DeliveryFilter,
        page: &PageQuery<DeliveryOrder>,
    ) -> Result<Page<WebhookDelivery>>;
    /// Makes a delivery pending again, due now, with its attempts reset.
    async fn redeliver(&self, id: DeliveryId) -> Result<WebhookDelivery>;
}

/// What signing up creates: a user and their first tenant, the user its owner.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: Email,
    pub password_hash: String,
    pub display_name: DisplayName,
    pub tenant: NewTenant,
}

/// What an owner changes about their tenant; `None` keeps it.
#[derive(Debug, Clone, Default)]
pub struct TenantChange {
    pub name: Option<TenantName>,
    pub slug: Option<TenantSlug>,
}

#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: TenantName,
    pub slug: TenantSlug,
    pub isolation: Isolation,
    /// Made by the fixture endpoint, which may delete only such tenants.
    pub fixture: bool,
}

/// Users and their credentials (control plane).
///
/// # Errors (every method)
/// [`crate::Error::Conflict`] naming `email` on a duplicate;
/// [`crate::Error::NotFound`] for unknown ids; [`crate::Error::Unexpected`].
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Creates the user, the tenant and the owner membership atomically.
    async fn create_account(&self, account: &NewAccount) -> Result<(User, Tenant)>;
    /// Creates a user who belongs to no tenant yet.
    async fn create_user(
        &self,
        email: &Email,
        password_hash: &str,
        display_name: &DisplayName,
    ) -> Result<User>;
    /// Deletes those of `users` who belong to no tenant any more.
    async fn delete_users_without_tenants(&self, users: &[UserId]) -> Result<u64>;
    /// The user and their password hash, if the email is registered.
    async fn credentials(&self, email: &Email) -> Result<Option<(User, String)>>;
    async fn user(&self, id: UserId) -> Result<User>;
    /// Replaces the user's password hash.
    async fn set_password_hash(&self, user: UserId, password_hash: &str) -> Result<()>;
    /// The user's password hash.
    async fn password_hash(&self, user: UserId) -> Result<String>;
}

/// The tenant directory (control plane): which tenants exist, where they live.
///
/// # Errors (every method)
/// [`crate::Error::Conflict`] naming `tenantSlug` on a duplicate;
/// [`crate::Error::NotFound`] for unknown ids; [`crate::Error::Unexpected`].
#[async_trait]
pub trait Directory: Send + Sync {
    /// Deletes a tenant's control-plane rows: the tenant, its memberships and
    /// sessions. Its tenant-plane data goes first, through [`TenantTx::purge`].
    /// Returns whether it existed.
    async fn delete_tenant(&self, tenant: TenantId) -> Result<bool>;
    /// Renames the context's tenant or changes its slug, audited as done by
    /// the context's member; other nodes hear of it through the change feed.
    async fn update_tenant(&self, ctx: &TenantContext, change: &TenantChange) -> Result<Tenant>;
    /// Creates a tenant owned by `owner`.
    async fn create_tenant(&self, owner: UserId, tenant: &NewTenant) -> Result<Tenant>;
    /// Creates a tenant owned by `owner` unless they own `max_owned`
    /// already: counted in the creating transaction, serialised per owner,
    /// so concurrent creations cannot pass the cap together.
    ///
    /// # Errors
    /// [`crate::Error::Conflict`] (no field) at the cap; as [`Self::create_tenant`].
    async fn create_tenant_within(
        &self,
        owner: UserId,
        tenant: &NewTenant,
        max_owned: u32,
    ) -> Result<Tenant>;
    async fn tenant(&self, id: TenantId) -> Result<Tenant>;
    async fn tenant_by_slug(&self, slug: &TenantSlug) -> Result<Option<Tenant>>;
}

/// Who belongs to which tenant with which role (control plane). It has no
/// tenant-plane access; lookups that reveal a tenant's members take a context.
///
/// # Errors (every method)
/// [`crate::Error::NotFound`] for unknown ids; [`crate::Error::Unexpected`].
#[async_trait]
pub trait Memberships: Send + Sync {
    /// Adds a user to a tenant with a role.
    async fn add_membership(&self, tenant: TenantId, user: UserId, role: &RoleName) -> Result<()>;
    /// Adds a user to a tenant with the role of an invitation made at
    /// `invited_at`, unless they were removed from the tenant since: then it
    /// adds nothing and returns false. The check and the insert are one
    /// transaction, serialised with member removals, so a removal voids
    /// every invitation made before it.
    async fn add_invited_membership(
        &self,
        tenant: TenantId,
        user: UserId,
        role: &RoleName,
        invited_at: DateTime<Utc>,
    ) -> Result<bool>;
    /// Every member of a tenant.
    async fn member_ids(&self, tenant: TenantId) -> Result<Vec<UserId>>;
    /// Changes a member's role.
    async fn set_membership_role(
        &self,
        tenant: TenantId,
        user: UserId,
        role: &RoleName,
    ) -> Result<()>;
    async fn membership(&self, user: UserId, tenant: TenantId) -> Result<Option<Membership>>;
    /// Every tenant the user belongs to, oldest membership first.
    async fn memberships_of(&self, user: UserId) -> Result<Vec<(Membership, Tenant)>>;
    /// Users among `ids` who are members of the context's tenant; others are skipped.
    async fn members_by_ids(&self, ctx: &TenantContext, ids: &[UserId]) -> Result<Vec<User>>;
}

/// The whole control plane of identity, for the use cases that span it
/// (sign-up creates a user, a tenant and a membership); a use case that needs
/// one part takes that part.
pub trait IdentityStore: Accounts + Directory + Memberships {}

impl<T: Accounts + Directory + Memberships + ?Sized> IdentityStore for T {}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now used, and its successor stored.
    Rotated {
        session: SessionId,
        user: UserId,
        tenant: TenantId,
    },
    /// The token was already used: someone replayed it. The session was revoked.
    Reused { session: SessionId },
    /// Unknown, or its session is revoked, expired or idle for too long.
    Invalid,
}

/// Sign-in sessions and their rotating refresh tokens (control plane).
/// Tokens are stored as SHA-256 hashes; the store never sees a token itself.
///
/// # Errors (every method)
/// [`crate::Error::Unexpected`] for storage failures.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Opens a session for the user in a tenant, ending at `expires_at` at the latest.
    async fn open(
        &self,
        user: UserId,
        tenant: TenantId,
        expires_at: DateTime<Utc>,
        refresh_hash: &str,
    ) -> Result<SessionId>;
    /// The session a refresh token (by its hash) belongs to, used or not.
    async fn session_of(&self, refresh_hash: &str) -> Result<Option<SessionId>>;
    /// Exchanges `presented` for `next` atomically. A session idle since before
    /// `idle_since` is over.
    async fn rotate(
        &self,
        presented: &str,
        next: &str,
        idle_since: DateTime<Utc>,
    ) -> Result<Rotation>;
    /// Ends one session. Ending an ended session is not an error.
    async fn revoke(&self, session: SessionId, reason: &str) -> Result<()>;
    /// Ends every live session of the user but `keep`; returns the ones ended.
    async fn revoke_all(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        reason: &str,
    ) -> Result<Vec<SessionId>>;
    /// Whether the session exists and is neither revoked nor expired.
    async fn is_active(&self, session: SessionId) -> Result<bool>;
}

/// Sessions whose access tokens must be refused before they expire. Shared by
/// every node through Redis, or in-process on a single node.
///
/// # Errors (every method)
/// [`crate::Error::Unexpected`] when the backing store is unreachable; callers
/// then fall back to [`SessionStore::is_active`].
#[async_trait]
pub trait RevocationList: Send + Sync {
    /// Refuses the session's access tokens for `ttl` (their longest remaining life).
    async fn revoke(&self, session: SessionId, ttl: std::time::Duration) -> Result<()>;
    async fn is_revoked(&self, session: SessionId) -> Result<bool>;
}

/// Password hashing (argon2id in `infra`). CPU-heavy: adapters run it off the async executor.
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: &Password) -> Result<String>;
    /// Whether `password` matches `hash`. With `hash = None` it still does the
    /// work of a verification, so an unknown email takes as long as a known one.
    async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool>;
}

/// Access tokens.
pub trait TokenService: Send + Sync {
    /// # Errors
    /// [`crate::Error::Unexpected`] when signing fails.
    fn issue(&self, user: UserId, tenant: TenantId, session: SessionId) -> Result<IssuedToken>;
    /// An impersonation token: `user`'s in `tenant`, carrying the operator as
    /// its actor (RFC 8693 `act`), living `ttl_seconds`.
    ///
    /// # Errors
    /// [`crate::Error::Unexpected`] when signing fails.
    fn issue_acting(
        &self,
        user: UserId,
        tenant: TenantId,
        session: SessionId,
        actor: crate::identity::Actor,
        ttl_seconds: i64,
    ) -> Result<IssuedToken>;
    /// Checks signature, algorithm, expiry, not-before, issuer, audience and every required claim.
    ///
    /// # Errors
    /// [`crate::Error::Unauthenticated`] for any token that fails a check.
    fn verify(&self, token: &str) -> Result<AccessClaims>;
    /// A new opaque refresh token and the hash to store for it.
    fn new_refresh_token(&self) -> (RefreshToken, String);
    /// The stored form of a presented refresh token.
    fn refresh_hash(&self, token: &str) -> String;
}

/// A rate limit's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    Limited { retry_after: std::time::Duration },
}

/// One rate-limit rule (a quota fixed at construction) over many keys: GCRA,
/// so a burst of the quota's size is allowed, then one more per interval.
/// In Redis (shared by every node) or in-process.
///
/// # Errors
/// Never for a down backend: adapters answer by their configured fail-open or
/// fail-closed rule and log the failure.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// One attempt against `key`'s quota.
    async fn check(&self, key: &str) -> RateDecision {
        self.check_n(key, 1).await
    }
    /// `cost` units at once (a request weighed by its database work); more
    /// than the whole burst is always refused.
    async fn check_n(&self, key: &str, cost: u32) -> RateDecision;
}

/// Tenants' own request rates (control plane), read on every request:
/// adapters may cache them briefly.
///
/// # Errors (every method)
/// [`crate::Error::NotFound`] for an unknown tenant; [`crate::Error::Unexpected`].
#[async_trait]
pub trait TenantRates: Send + Sync {
    async fn request_rates(&self, tenant: TenantId) -> Result<crate::rates::RequestRates>;
    async fn set_request_rates(
        &self,
        tenant: TenantId,
        rates: crate::rates::RequestRates,
    ) -> Result<()>;
}

/// Invitations of the transaction's tenant.
///
/// # Errors (every method)
/// [`crate::Error::Unexpected`] for storage failures.
#[async_trait]
pub trait InvitationRepository {
    async fn create_invitation(&self, invitation: &Invitation, token_hash: &str) -> Result<()>;
    /// The invitation whose token hashes to `token_hash`, accepted or not.
    async fn invitation_by_token(&self, token_hash: &str) -> Result<Option<Invitation>>;
    /// Invitations not yet accepted, newest first.
    async fn pending_invitations(&self) -> Result<Vec<Invitation>>;
    /// The invitation with this id, unless it was accepted.
    async fn pending_invitation(&self, id: uuid::Uuid) -> Result<Option<Invitation>>;
    /// Marks it accepted, unless it already was: returns whether this call did.
    async fn accept_invitation(&self, id: uuid::Uuid) -> Result<bool>;
    /// Undoes [`Self::accept_invitation`], for a join that did not happen.
    async fn release_invitation(&self, id: uuid::Uuid) -> Result<()>;
    /// Deletes it unless it was accepted, so its token finds nothing:
    /// returns whether this call did.
    async fn revoke_invitation(&self, id: uuid::Uuid) -> Result<bool>;
    /// Deletes every invitation for `email` not yet accepted: returns how many.
    async fn revoke_invitations_for(&self, email: &Email) -> Result<u64>;
    /// Gives it a new token (unless it was accepted): returns whether it did.
    async fn reissue_invitation(&self, id: uuid::Uuid, token_hash: &str) -> Result<bool>;
    async fn set_email_status(
        &self,
        id: uuid::Uuid,
        status: EmailStatus,
        attempts: i32,
    ) -> Result<()>;
}

/// Sends email through a provider, retrying transient failures itself.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &OutgoingEmail) -> Delivery;
}

/// Claims of an access token from an external OpenID Connect provider, verified
/// against its published keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalClaims {
    pub issuer: String,
    pub subject: String,
    /// Finds the user here the first time the subject is seen, and only when
    /// the provider vouches for it (`email_verified`).
    pub email: Option<String>,
    /// Whether the provider says it verified `email`.
    pub email_verified: bool,
    /// The tenant the token is for, from the configured claim.
    pub tenant_id: Option<TenantId>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Verifies tokens of an external OpenID Connect provider (JWKS).
///
/// # Errors
/// [`crate::Error::Unauthenticated`] for any token that fails a check,
/// including one whose key cannot be found.
#[async_trait]
pub trait ExternalTokenVerifier: Send + Sync {
    async fn verify(&self, token: &str) -> Result<ExternalClaims>;
}

/// A provider's subject as linked to a user here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    pub user_id: UserId,
    /// The subject signed out then: its tokens issued at or before it are refused.
    pub signed_out_at: Option<DateTime<Utc>>,
}

/// Links from an external provider's subjects (issuer, subject) to users
/// (control plane). A subject stays linked to the user it was first linked
/// to; a link goes when its user does.
///
/// # Errors (every method)
/// [`crate::Error::Unexpected`] for storage failures.
#[async_trait]
pub trait ExternalIdentities: Send + Sync {
    async fn find(&self, issuer: &str, subject: &str) -> Result<Option<ExternalIdentity>>;
    /// Links the subject to `user` unless it is linked already, and returns
    /// the link as stored: when two requests race, both get the first link.
    async fn link(&self, issuer: &str, subject: &str, user: UserId) -> Result<ExternalIdentity>;
    /// Records that the subject signed out at `at`. An earlier instant than
    /// the one stored changes nothing, so a sign-out is never shortened.
    async fn sign_out(&self, issuer: &str, subject: &str, at: DateTime<Utc>) -> Result<()>;
    /// [`ExternalIdentities::sign_out`] for every subject linked to the user.
    async fn sign_out_user(&self, user: UserId, at: DateTime<Utc>) -> Result<()>;
}

/// A member of a tenant, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user: User,
    pub role: RoleName,
    pub joined_at: DateTime<Utc>,
}

/// A member's role and the tenant's owner count, read inside the transaction
/// that changes the member, so rules on them cannot race.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    pub role: RoleName,
    pub owners: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    SetRole(RoleName),
    Remove,
}

/// Decides a member change from the member's current state: the audit
/// record to write, or the error that refuses it.
pub type MemberDecision<'a> = &'a (dyn Fn(&MemberState) -> Result<AuditRecord> + Send + Sync);

/// Custom roles, member roles and the audit log of one tenant: every method
/// is scoped by the context's tenant, and every change writes its audit
/// record in the same transaction and reaches every node's authorizer.
///
/// # Errors (every method)
/// [`crate::Error::NotFound`] for a role or member not in the tenant;
/// [`crate::Error::Conflict`] on `name` for a duplicate role;
/// [`crate::Error::Unexpected`].
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// The tenant's custom roles (the defaults are the domain's).
    async fn custom_roles(&self, ctx: &TenantContext) -> Result<Vec<Role>>;
    async fn create_role(
        &self,
        ctx: &TenantContext,
        role: &Role,
        audit: &AuditRecord,
    ) -> Result<()>;
    /// Replaces a custom role's permissions.
    async fn update_role(
        &self,
        ctx: &TenantContext,
        role: &Role,
        audit: &AuditRecord,
    ) -> Result<()>;
    /// Deletes a custom role; [`crate::Error::Conflict`] while members hold it.
    async fn delete_role(
        &self,
        ctx: &TenantContext,
        name: &RoleName,
        audit: &AuditRecord,
    ) -> Result<()>;
    /// Members ordered by user id, after the given one.
    async fn members(
        &self,
        ctx: &TenantContext,
        after: Option<UserId>,
        first: u64,
    ) -> Result<Vec<Member>>;
    /// Changes a member if `decide` allows it given their current state;
    /// returns the member as changed (none once removed).
    async fn change_member(
        &self,
        ctx: &TenantContext,
        user: UserId,
        change: &MemberChange,
        decide: MemberDecision<'_>,
    ) -> Result<Option<Member>>;
    /// Entries newest first, before the given id.
    async fn audit_log(
        &self,
        ctx: &TenantContext,
        before: Option<uuid::Uuid>,
        first: u64,
    ) -> Result<Vec<AuditEntry>>;
}
