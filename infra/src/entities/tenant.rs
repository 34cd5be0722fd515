use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub isolation: String,
    /// The database server of a database-strategy tenant.
    pub placement: Option<String>,
    pub created_at: DateTimeUtc,
    /// Request rates per second where they differ from the defaults.
    pub rate_tenant_work: Option<i32>,
    pub rate_per_user: Option<i32>,
    /// Made by the fixture endpoint, which deletes no other tenant.
    pub fixture: bool,
    /// `active`, `read_only` or `suspended` (see `domain::identity::Standing`).
    pub standing: String,
    /// When an operator last changed the standing.
    pub standing_since: Option<DateTimeUtc>,
    /// Null: the deployment's default plan.
    pub plan: Option<String>,
    /// Feature flags on beside the plan's, comma-separated.
    pub features: String,
    /// When a deleted tenant is purged.
    pub purge_after: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
