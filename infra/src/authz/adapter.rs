//! A Casbin adapter on SeaORM 2 (the published sea-orm adapter targets SeaORM 1).
//!
//! Lines live in `casbin_rule`, except a user's role in a tenant: that `g`
//! line is the membership row itself (`memberships.role`), whose primary key
//! keeps one role per member and whose foreign keys remove it with its user or
//! tenant. A `g` line is a membership line when its subject is a user id.

use crate::entities::{casbin_rule, membership};
use async_trait::async_trait;
use casbin::{Adapter, Filter, Model, Result as CasbinResult};
use sea_orm::sea_query::{ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    TransactionTrait,
};
use uuid::Uuid;

pub struct SeaOrmAdapter {
    db: DatabaseConnection,
    filtered: bool,
}

impl SeaOrmAdapter {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            filtered: false,
        }
    }
}

fn err(e: DbErr) -> casbin::Error {
    casbin::Error::AdapterError(casbin::error::AdapterError(Box::new(e)))
}

/// `(sec, ptype, values)` of a line.
pub type Line = (String, String, Vec<String>);

/// A membership line: `g, <user id>, <role>, <tenant id>`.
fn as_membership(ptype: &str, rule: &[String]) -> Option<(Uuid, Uuid)> {
    if ptype != "g" || rule.len() != 3 {
        return None;
    }
    Some((
        Uuid::parse_str(&rule[0]).ok()?,
        Uuid::parse_str(&rule[2]).ok()?,
    ))
}

fn rule_values(r: casbin_rule::Model) -> Line {
    let mut values = vec![r.v0, r.v1, r.v2, r.v3, r.v4, r.v5];
    while values.last().is_some_and(String::is_empty) {
        values.pop();
    }
    let sec = if r.ptype.starts_with('g') { "g" } else { "p" };
    (sec.to_owned(), r.ptype, values)
}

fn to_row(ptype: &str, rule: &[String]) -> casbin_rule::ActiveModel {
    let v = |i: usize| Set(rule.get(i).cloned().unwrap_or_default());
    casbin_rule::ActiveModel {
        ptype: Set(ptype.to_owned()),
        v0: v(0),
        v1: v(1),
        v2: v(2),
        v3: v(3),
        v4: v(4),
        v5: v(5),
        ..Default::default()
    }
}

/// `v<i> = value` for each non-empty value from `field_index` on.
fn matching(ptype: &str, field_index: usize, values: &[String]) -> Condition {
    use casbin_rule::Column as C;
    const COLS: [C; 6] = [C::V0, C::V1, C::V2, C::V3, C::V4, C::V5];
    let mut cond = Condition::all().add(C::Ptype.eq(ptype));
    for (col, value) in COLS.iter().skip(field_index).zip(values) {
        if !value.is_empty() {
            cond = cond.add(col.eq(value.as_str()));
        }
    }
    cond
}

/// Every line of one tenant, or of all tenants and the shared ones.
pub async fn lines(db: &DatabaseConnection, tenant: Option<Uuid>) -> Result<Vec<Line>, DbErr> {
    use casbin_rule::Column as C;
    let mut rules = casbin_rule::Entity::find();
    let mut members = membership::Entity::find();
    if let Some(t) = tenant {
        let t = t.to_string();
        rules = rules.filter(
            Condition::any()
                .add(C::Ptype.eq("g").and(C::V2.eq(t.as_str())))
                .add(C::Ptype.eq("p").and(C::V1.eq(t.as_str()))),
        );
        members = members.filter(membership::Column::TenantId.eq(tenant));
    }
    let mut out: Vec<Line> = rules.all(db).await?.into_iter().map(rule_values).collect();
    out.extend(members.all(db).await?.into_iter().map(|m| {
        (
            "g".to_owned(),
            "g".to_owned(),
            vec![m.user_id.to_string(), m.role, m.tenant_id.to_string()],
        )
    }));
    Ok(out)
}

fn load_into(m: &mut dyn Model, lines: Vec<Line>) {
    for (sec, ptype, rule) in lines {
        if let Some(ast) = m
            .get_mut_model()
            .get_mut(&sec)
            .and_then(|s| s.get_mut(&ptype))
        {
            ast.get_mut_policy().insert(rule);
        }
    }
}

#[async_trait]
impl Adapter for SeaOrmAdapter {
    async fn load_policy(&mut self, m: &mut dyn Model) -> CasbinResult<()> {
        self.filtered = false;
        load_into(m, lines(&self.db, None).await.map_err(err)?);
        Ok(())
    }

    /// Keeps the lines whose values match the filter's non-empty entries.
    async fn load_filtered_policy<'a>(
        &mut self,
        m: &mut dyn Model,
        f: Filter<'a>,
    ) -> CasbinResult<()> {
        let keep = |sec: &str, rule: &[String]| {
            let want = if sec == "g" { &f.g } else { &f.p };
            want.iter()
                .enumerate()
                .all(|(i, w)| w.is_empty() || rule.get(i).is_some_and(|v| v == w))
        };
        let all = lines(&self.db, None).await.map_err(err)?;
        let before = all.len();
        let kept: Vec<_> = all.into_iter().filter(|(s, _, r)| keep(s, r)).collect();
        self.filtered = kept.len() < before;
        load_into(m, kept);
        Ok(())
    }

    /// Replaces the stored lines with the model's. Membership lines can only
    /// change roles of existing memberships: a membership is made by joining.
    async fn save_policy(&mut self, m: &mut dyn Model) -> CasbinResult<()> {
        let tx = self.db.begin().await.map_err(err)?;
        casbin_rule::Entity::delete_many()
            .exec(&tx)
            .await
            .map_err(err)?;
        for (sec, ast_map) in m.get_model() {
            for (ptype, ast) in ast_map {
                for rule in ast.get_policy() {
                    if let Some((user, tenant)) = as_membership(ptype, rule) {
                        set_role(&tx, user, tenant, &rule[1]).await?;
                    } else if sec == "p" || sec == "g" {
                        casbin_rule::Entity::insert(to_row(ptype, rule))
                            .exec_without_returning(&tx)
                            .await
                            .map_err(err)?;
                    }
                }
            }
        }
        tx.commit().await.map_err(err)
    }

    async fn clear_policy(&mut self) -> CasbinResult<()> {
        casbin_rule::Entity::delete_many()
            .exec(&self.db)
            .await
            .map_err(err)?;
        Ok(())
    }

    fn is_filtered(&self) -> bool {
        self.filtered
    }

    async fn add_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> CasbinResult<bool> {
        if let Some((user, tenant)) = as_membership(ptype, &rule) {
            return set_role(&self.db, user, tenant, &rule[1]).await;
        }
        let inserted = casbin_rule::Entity::insert(to_row(ptype, &rule))
            .on_conflict(
                OnConflict::columns([
                    casbin_rule::Column::Ptype,
                    casbin_rule::Column::V0,
                    casbin_rule::Column::V1,
                    casbin_rule::Column::V2,
                    casbin_rule::Column::V3,
                    casbin_rule::Column::V4,
                    casbin_rule::Column::V5,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(err)?;
        Ok(inserted == 1)
    }

    async fn add_policies(
        &mut self,
        sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> CasbinResult<bool> {
        let mut all = true;
        for rule in rules {
            all &= self.add_policy(sec, ptype, rule).await?;
        }
        Ok(all)
    }

    async fn remove_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> CasbinResult<bool> {
        let removed = if let Some((user, tenant)) = as_membership(ptype, &rule) {
            membership::Entity::delete_many()
                .filter(membership::Column::TenantId.eq(tenant))
                .filter(membership::Column::UserId.eq(user))
                .filter(membership::Column::Role.eq(rule[1].as_str()))
                .exec(&self.db)
                .await
        } else {
            casbin_rule::Entity::delete_many()
                .filter(matching(ptype, 0, &rule))
                .exec(&self.db)
                .await
        };
        Ok(removed.map_err(err)?.rows_affected > 0)
    }

    async fn remove_policies(
        &mut self,
        sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> CasbinResult<bool> {
        let mut all = true;
        for rule in rules {
            all &= self.remove_policy(sec, ptype, rule).await?;
        }
        Ok(all)
    }

    /// Removes matching `casbin_rule` lines. Memberships are not removed this
    /// way: leaving a tenant goes through the member use cases.
    async fn remove_filtered_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        field_index: usize,
        field_values: Vec<String>,
    ) -> CasbinResult<bool> {
        let res = casbin_rule::Entity::delete_many()
            .filter(matching(ptype, field_index, &field_values))
            .exec(&self.db)
            .await
            .map_err(err)?;
        Ok(res.rows_affected > 0)
    }
}

async fn set_role(
    db: &impl sea_orm::ConnectionTrait,
    user: Uuid,
    tenant: Uuid,
    role: &str,
) -> CasbinResult<bool> {
    let res = membership::Entity::update_many()
        .col_expr(
            membership::Column::Role,
            sea_orm::sea_query::Expr::value(role),
        )
        .filter(membership::Column::TenantId.eq(tenant))
        .filter(membership::Column::UserId.eq(user))
        .exec(db)
        .await
        .map_err(err)?;
    Ok(res.rows_affected == 1)
}
