use sea_orm::entity::prelude::*;

/// Requests of one tenant in one hour, summed over every server.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_request_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The hour's start.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hour: DateTimeUtc,
    pub requests: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
