//! Table and column names, shared by the migrations.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
pub enum Tenants {
    Table,
    Id,
    Slug,
    Name,
    Isolation,
    CreatedAt,
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
