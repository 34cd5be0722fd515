//! Audit entries: written inside the change's transaction, read per tenant.

use crate::entities::audit_log;
use chrono::{DateTime, Utc};
use domain::audit::{AuditAction, AuditEntry, AuditRecord, AuditState, AuditValue};
use domain::{TenantId, UserId};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Map, Value};
use uuid::Uuid;

fn to_json(s: &AuditState) -> String {
    let map: Map<String, Value> = s
        .iter()
        .map(|(k, v)| {
            let v = match v {
                AuditValue::Text(t) => Value::from(t.as_str()),
                AuditValue::List(l) => Value::from(l.clone()),
            };
            (k.clone(), v)
        })
        .collect();
    Value::Object(map).to_string()
}

fn from_json(raw: &str) -> Option<AuditState> {
    let Value::Object(map) = serde_json::from_str(raw).ok()? else {
        return None;
    };
    Some(
        map.into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::Array(items) => AuditValue::List(
                        items
                            .into_iter()
                            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                            .collect(),
                    ),
                    Value::String(s) => AuditValue::Text(s),
                    other => AuditValue::Text(other.to_string()),
                };
                (k, v)
            })
            .collect(),
    )
}

/// # Errors
/// When the database fails.
pub async fn write(
    tx: &impl ConnectionTrait,
    tenant: TenantId,
    actor: Option<UserId>,
    record: &AuditRecord,
) -> Result<(), DbErr> {
    audit_log::Entity::insert(audit_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant.as_uuid()),
        actor_id: Set(actor.map(|a| a.as_uuid())),
        action: Set(record.action.as_str().to_owned()),
        target: Set(record.target.clone()),
        before: Set(record.before.as_ref().map(to_json)),
        after: Set(record.after.as_ref().map(to_json)),
        created_at: Set(crate::now()),
    })
    .exec_without_returning(tx)
    .await?;
    Ok(())
}

/// Whether `user` was removed from `tenant` at or after `since`. Accepting an
/// invitation asks this: the removal's entry, written in the removal's own
/// transaction, is what voids the invitations made before it (so entries
/// must be kept at least as long as invitations live).
///
/// # Errors
/// When the database fails.
pub async fn removed_since(
    tx: &impl ConnectionTrait,
    tenant: TenantId,
    user: UserId,
    since: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use audit_log::Column as C;
    Ok(audit_log::Entity::find()
        .filter(C::TenantId.eq(tenant.as_uuid()))
        .filter(C::Action.eq(AuditAction::MemberRemoved.as_str()))
        .filter(C::Target.eq(format!("user:{user}")))
        .filter(C::CreatedAt.gte(since))
        .count(tx)
        .await?
        > 0)
}

pub fn to_domain(r: audit_log::Model) -> AuditEntry {
    AuditEntry {
        id: r.id,
        tenant_id: TenantId::from_uuid(r.tenant_id),
        actor_id: r.actor_id.map(UserId::from_uuid),
        action: r.action,
        target: r.target,
        before: r.before.as_deref().and_then(from_json),
        after: r.after.as_deref().and_then(from_json),
        at: r.created_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::audit::state;

    #[test]
    fn states_survive_a_round_trip() {
        let mut s = state("role", "admin");
        s.insert(
            "permissions".into(),
            AuditValue::List(vec!["task:read".into(), "audit:read".into()]),
        );
        assert_eq!(from_json(&to_json(&s)), Some(s));
    }
}
