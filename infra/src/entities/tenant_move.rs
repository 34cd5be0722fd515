use sea_orm::entity::prelude::*;

/// A move of a tenant between strategies, run as a job (see `domain::moves`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_moves")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub from_isolation: String,
    pub from_placement: Option<String>,
    pub to_isolation: String,
    pub server: Option<String>,
    pub requested_by: Option<Uuid>,
    pub reason: Option<String>,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    pub phase: String,
    pub tables_done: i32,
    pub tables_total: i32,
    pub rows_copied: i64,
    pub attempts: i32,
    pub placement: Option<String>,
    pub error: Option<String>,
    /// Until when the node running it may; past it, another takes it up.
    pub lease_until: Option<DateTimeUtc>,
    pub requested_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
