//! The default roles' lines, written once for all tenants (domain `*`), and
//! one `perm:<permission>` line per permission that custom roles inherit.

use crate::entities::casbin_rule;
use domain::authz::{Permission, default_roles};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    TransactionTrait,
};

/// Every tenant's domain in a `p` line.
pub const ANY_TENANT: &str = "*";

/// The role a custom role inherits to hold `permission`.
pub fn permission_role(permission: Permission) -> String {
    format!("perm:{}", permission.as_str())
}

/// `(sub, perm)` of every shared `p` line.
fn wanted() -> Vec<(String, &'static str)> {
    let mut lines: Vec<_> = default_roles()
        .into_iter()
        .flat_map(|r| {
            r.permissions
                .into_iter()
                .map(move |p| (r.name.as_str().to_owned(), p.as_str()))
        })
        .collect();
    lines.extend(
        Permission::ALL
            .iter()
            .map(|&p| (permission_role(p), p.as_str())),
    );
    lines
}

/// Makes the stored shared lines equal the code's table: adds the missing,
/// removes the stale. Idempotent, so nodes may start together.
///
/// # Errors
/// When the database fails.
pub async fn sync(db: &DatabaseConnection) -> Result<(), DbErr> {
    use casbin_rule::Column as C;
    let wanted = wanted();
    let tx = db.begin().await?;
    let stored = casbin_rule::Entity::find()
        .filter(C::Ptype.eq("p"))
        .filter(C::V1.eq(ANY_TENANT))
        .all(&tx)
        .await?;
    for row in &stored {
        if !wanted.iter().any(|(s, p)| *s == row.v0 && *p == row.v2) {
            casbin_rule::Entity::delete_by_id(row.id).exec(&tx).await?;
        }
    }
    let missing: Vec<_> = wanted
        .iter()
        .filter(|(s, p)| !stored.iter().any(|r| r.v0 == *s && r.v2 == *p))
        .map(|(s, p)| casbin_rule::ActiveModel {
            ptype: Set("p".into()),
            v0: Set(s.clone()),
            v1: Set(ANY_TENANT.into()),
            v2: Set((*p).into()),
            v3: Set(String::new()),
            v4: Set(String::new()),
            v5: Set(String::new()),
            ..Default::default()
        })
        .collect();
    if !missing.is_empty() {
        casbin_rule::Entity::insert_many(missing)
            .on_conflict(
                OnConflict::columns([C::Ptype, C::V0, C::V1, C::V2, C::V3, C::V4, C::V5])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&tx)
            .await?;
    }
    tx.commit().await
}
