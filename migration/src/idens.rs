//! Table and column names, shared by the migrations.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
pub enum Tenants {
    Table,
    Id,
    Slug,
    Name,
    Isolation,
    Placement,
    CreatedAt,
    RateTenantWork,
    RatePerUser,
    Fixture,
    Standing,
    StandingSince,
    Plan,
    Features,
    PurgeAfter,
}

#[derive(DeriveIden)]
pub enum TenantDomains {
    Table,
    Domain,
    TenantId,
    Approved,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum TenantMoves {
    Table,
    Id,
    TenantId,
    FromIsolation,
    FromPlacement,
    ToIsolation,
    Server,
    RequestedBy,
    Reason,
    Status,
    Phase,
    TablesDone,
    TablesTotal,
    RowsCopied,
    Attempts,
    Placement,
    Error,
    LeaseUntil,
    RequestedAt,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
pub enum Operators {
    Table,
    UserId,
    GrantedAt,
}

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    DisplayName,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Memberships {
    Table,
    TenantId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Sessions {
    Table,
    Id,
    UserId,
    TenantId,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
pub enum Projects {
    Table,
    TenantId,
    Id,
    Name,
    Description,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
    Version,
}

#[derive(DeriveIden)]
pub enum Tasks {
    Table,
    TenantId,
    Id,
    ProjectId,
    Title,
    Description,
    Status,
    Priority,
    AssigneeId,
    DueDate,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
    Version,
}

#[derive(DeriveIden)]
pub enum IdempotencyKeys {
    Table,
    TenantId,
    Scope,
    Key,
    Fingerprint,
    ResourceId,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum SessionsV2 {
    #[sea_orm(iden = "sessions")]
    Table,
    ExpiresAt,
    LastUsedAt,
    RevokedReason,
}

#[derive(DeriveIden)]
pub enum ExternalIdentities {
    Table,
    Issuer,
    Subject,
    UserId,
    CreatedAt,
    SignedOutAt,
}

#[derive(DeriveIden)]
pub enum RefreshTokens {
    Table,
    Id,
    SessionId,
    TokenHash,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden)]
pub enum Invitations {
    Table,
    TenantId,
    Id,
    Email,
    Role,
    TokenHash,
    InvitedBy,
    CreatedAt,
    ExpiresAt,
    AcceptedAt,
    EmailStatus,
    EmailAttempts,
}

/// Casbin's policy lines: `ptype` (p, g) and up to six values. Empty
/// strings, not NULLs, for unused values, so the unique index holds.
#[derive(DeriveIden)]
pub enum CasbinRule {
    Table,
    Id,
    Ptype,
    V0,
    V1,
    V2,
    V3,
    V4,
    V5,
}

#[derive(DeriveIden)]
pub enum AuditLog {
    Table,
    Id,
    TenantId,
    ActorId,
    Action,
    Target,
    Before,
    After,
    CreatedAt,
}

/// One row per authorization change, numbered in commit order, so other nodes
/// reload just the tenants that changed.
#[derive(DeriveIden)]
pub enum PolicyChanges {
    Table,
    Version,
    TenantId,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum OutboxEvents {
    Table,
    TenantId,
    Id,
    EventType,
    OccurredAt,
    Payload,
}

#[derive(DeriveIden)]
pub enum Webhooks {
    Table,
    TenantId,
    Id,
    Url,
    Events,
    Secret,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum WebhookDeliveries {
    Table,
    TenantId,
    Id,
    WebhookId,
    EventId,
    EventType,
    Body,
    Status,
    Attempts,
    NextAttemptAt,
    LastStatusCode,
    LastError,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
pub enum Jobs {
    Table,
    Name,
    LeaseUntil,
    LastRunAt,
}

#[derive(DeriveIden)]
pub enum RevocationReplays {
    Table,
    SessionId,
    Until,
}
