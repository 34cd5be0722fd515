//! Moving a tenant to another strategy: copy its rows, verify the counts,
//! switch the directory, remove the old copy — with its writes paused.
//!
//! The pause is a PostgreSQL advisory lock per tenant in the control
//! database. Every write transaction holds it shared (see
//! [`still_here`]) and then reads where the tenant lives; a move holds it
//! exclusively from before the copy until the directory has switched. So a
//! write either commits before the copy starts (and is copied), or waits and
//! then finds the tenant gone from where its request thought it was and is
//! refused with `RATE_LIMITED` (retry in a second), and the retry reaches the
//! new place. Reads go on from the old copy until the switch.
//!
//! A run that stops before the switch leaves the tenant where it was (a
//! rerun first removes the half-made copy); one that stops after it leaves
//! the old copy behind, unreachable.

use super::database::TenantDatabases;
use super::{SqlTenancy, schema};
use crate::entities::tenant;
use crate::errors::DbResultExt;
use domain::audit::{AuditAction, AuditRecord, AuditState, AuditValue};
use domain::ports::{TenantTx, TxMode};
use domain::{Error, Isolation, Result, TenantContext, TenantId};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseTransaction, DbBackend,
    EntityTrait, IntoActiveModel, Statement, TransactionTrait,
};

/// The advisory lock's first key: "move".
pub(crate) const LOCK_SPACE: i32 = 0x6d6f_7665;

/// Calls an advisory-lock function (`pg_advisory_xact_lock`,
/// `pg_try_advisory_xact_lock`, `…_shared`) on the tenant's move lock;
/// whether it was granted (the waiting form always is).
async fn lock(conn: &DatabaseTransaction, tenant: TenantId, function: &str) -> Result<bool> {
    advisory(conn, function, LOCK_SPACE, tenant).await
}

/// Calls an advisory-lock function on `(space, hashtext(tenant))`, the key
/// of every per-tenant lock; whether it was granted (the waiting form always is).
pub(crate) async fn advisory(
    conn: &DatabaseTransaction,
    function: &str,
    space: i32,
    tenant: impl std::fmt::Display,
) -> Result<bool> {
    let granted = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT {function}($1, hashtext($2))::text <> 'false' AS granted"),
            [space.into(), tenant.to_string().into()],
        ))
        .await
        .or_unexpected()?
        .map(|r| r.try_get::<bool>("", "granted"))
        .transpose()
        .or_unexpected()?;
    Ok(granted == Some(true))
}

/// Takes the tenant's move lock exclusively for the transaction if nobody
/// holds it (no move and no write of that tenant is under way).
///
/// # Errors
/// When the database fails.
pub(crate) async fn try_lock_exclusive(
    conn: &DatabaseTransaction,
    tenant: TenantId,
) -> Result<bool> {
    lock(conn, tenant, "pg_try_advisory_xact_lock").await
}

/// Takes the tenant's move lock shared for the transaction.
///
/// # Errors
/// `RateLimited` when a move holds it. A write does not wait for a move:
/// waiting would hold a connection of the shared pool for the whole copy,
/// and a busy tenant could take them all.
pub(crate) async fn share_lock(conn: &DatabaseTransaction, tenant: TenantId) -> Result<()> {
    let locked = lock(conn, tenant, "pg_try_advisory_xact_lock_shared").await?;
    if locked { Ok(()) } else { Err(moved()) }
}

pub(crate) fn moved() -> Error {
    Error::RateLimited {
        retry_after_secs: 1,
    }
}

/// Whether the directory, read after [`share_lock`], still puts the tenant
/// where `ctx` (and, for a database tenant, its pool's `placement`) does.
/// A tenant deleted meanwhile passes: the write goes ahead as it would have
/// a moment earlier, and the deletion's second purge removes it.
///
/// # Errors
/// `RateLimited` when the tenant has moved: a retry reaches its new place.
pub(crate) fn check(
    ctx: &TenantContext,
    found: Option<(String, Option<String>)>,
    placement: Option<&str>,
) -> Result<()> {
    match found {
        Some((isolation, placed))
            if isolation != ctx.isolation().as_str()
                || placement.is_some_and(|p| placed.as_deref() != Some(p)) =>
        {
            Err(moved())
        }
        _ => Ok(()),
    }
}

/// [`share_lock`] and [`check`], for a database tenant's write, from a
/// transaction on the control database.
///
/// # Errors
/// As those two.
pub(crate) async fn still_here(
    control: &DatabaseTransaction,
    ctx: &TenantContext,
    placement: &str,
) -> Result<()> {
    share_lock(control, ctx.tenant_id()).await?;
    // A statement of its own: its snapshot is taken after the lock was granted.
    let found = control
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT isolation, placement FROM tenants WHERE id = $1::uuid",
            [ctx.tenant_id().to_string().into()],
        ))
        .await
        .or_unexpected()?
        .map(|r| {
            Ok::<_, sea_orm::DbErr>((
                r.try_get::<String>("", "isolation")?,
                r.try_get::<Option<String>>("", "placement")?,
            ))
        })
        .transpose()
        .or_unexpected()?;
    check(ctx, found, Some(placement))
}

use domain::lifecycle::Moved;
use domain::moves::{MovePhase, MovePlan, MoveProgress, Progress};

/// A move's progress, told to its listener at each step.
struct Tracker<'a> {
    now: std::sync::Mutex<Progress>,
    listener: &'a dyn MoveProgress,
}

impl<'a> Tracker<'a> {
    fn new(listener: &'a dyn MoveProgress) -> Self {
        Self {
            now: std::sync::Mutex::new(Progress::default()),
            listener,
        }
    }

    fn update(&self, change: impl FnOnce(&mut Progress)) {
        let now = {
            let mut p = self
                .now
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            change(&mut p);
            *p
        };
        self.listener.report(now);
    }

    fn phase(&self, phase: MovePhase) {
        self.update(|p| p.phase = phase);
    }
}

impl SqlTenancy {
    fn databases(&self) -> Result<&TenantDatabases> {
        self.databases.as_deref().ok_or_else(|| {
            Error::invalid("to", "database isolation needs tenancy.database.servers")
        })
    }

    /// Whether a tenant at `from` can move to `to` (onto `server`) here.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when it cannot.
    pub fn check_move(&self, from: Isolation, to: Isolation, server: Option<&str>) -> Result<()> {
        if to == Isolation::Schema && self.db.get_database_backend() != DbBackend::Postgres {
            return Err(Error::invalid("to", "schema isolation needs PostgreSQL"));
        }
        if from == to {
            return Err(Error::invalid("to", format!("the tenant is already {to}")));
        }
        if to == Isolation::Database || from == Isolation::Database {
            self.databases()?;
        }
        match (to, server) {
            (Isolation::Database, Some(name)) if !self.databases()?.has_server(name) => Err(
                Error::invalid("server", format!("no database server is named {name:?}")),
            ),
            (Isolation::Row | Isolation::Schema, Some(_)) => Err(Error::invalid(
                "server",
                "only a move into database isolation goes to a server",
            )),
            _ => Ok(()),
        }
    }

    /// Moves the tenant as `plan` says (for `database`, onto its server or
    /// the one the placement rule picks), telling `progress` at each step.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` for a move this deployment cannot make; otherwise as
    /// the databases fail, with the tenant left where it was.
    pub async fn move_tenant(
        &self,
        tenant: TenantId,
        plan: &MovePlan,
        progress: &dyn MoveProgress,
    ) -> Result<Moved> {
        let (to, server) = (plan.to, plan.server.as_deref());
        let postgres = self.db.get_database_backend() == DbBackend::Postgres;
        let tracker = Tracker::new(progress);
        tracker.phase(MovePhase::Preparing);
        // Writes pause here: in-flight ones finish first, new ones are turned
        // away; and a second move of this tenant waits for this one.
        let control = self.db.begin().await.or_unexpected()?;
        if postgres {
            lock(&control, tenant, "pg_advisory_xact_lock").await?;
        }
        // Read under the lock: a move that ran meanwhile has changed it.
        // (SQLite has no lock, and a read would pin the control transaction
        // to a snapshot older than the copy it must later write after.)
        let find = tenant::Entity::find_by_id(tenant.as_uuid());
        let row = if postgres {
            find.one(&control).await
        } else {
            find.one(&self.db).await
        }
        .or_unexpected()?
        .ok_or(Error::NotFound(domain::error::Entity::Tenant))?;
        let from: Isolation = row
            .isolation
            .parse()
            .map_err(|_| Error::unexpected("stored isolation is invalid"))?;
        self.check_move(from, to, server)?;
        let placement = self.prepare(tenant, to, server).await?;
        let copied = self.copy(tenant, from, to, &tracker).await;
        let rows = match copied {
            Ok(rows) => rows,
            Err(e) => {
                self.discard(tenant, to, placement.as_deref()).await;
                return Err(e);
            }
        };
        tracker.phase(MovePhase::Switching);
        let mut switch: tenant::ActiveModel = row.clone().into_active_model();
        switch.isolation = Set(to.as_str().to_owned());
        switch.placement = Set(placement.clone());
        let record = AuditRecord {
            action: AuditAction::TenantMoved,
            target: format!("tenant:{tenant}"),
            before: Some(where_it_lives(from, row.placement.as_deref())),
            after: Some(where_it_lives(to, placement.as_deref())),
        };
        let switched = async {
            switch.update(&control).await.or_unexpected()?;
            crate::authz::audit::write(&control, tenant, plan.actor, &record)
                .await
                .or_unexpected()?;
            // Through the change feed, every node's cached lookups of this
            // tenant (which name its isolation) turn over.
            crate::authz::changes::record(&control, tenant.as_uuid())
                .await
                .or_unexpected()?;
            control.commit().await.or_unexpected()
        }
        .await;
        if let Err(e) = switched {
            // A commit whose answer was lost may have happened: remove the
            // new copy only if the directory still names the old one.
            let still_old = tenant::Entity::find_by_id(tenant.as_uuid())
                .one(&self.db)
                .await
                .ok()
                .flatten()
                .is_some_and(|t| t.isolation == from.as_str());
            if still_old {
                self.discard(tenant, to, placement.as_deref()).await;
            }
            return Err(e);
        }
        // The old copy is unreachable now; remove it.
        tracker.phase(MovePhase::Cleaning);
        self.discard(tenant, from, row.placement.as_deref()).await;
        Ok(Moved {
            from,
            to,
            placement: match (to, &self.databases) {
                (Isolation::Schema, _) => schema::schema_name(tenant),
                (Isolation::Database, Some(d)) => d.describe(tenant, placement.as_deref()),
                _ => "public".into(),
            },
            rows,
        })
    }

    /// Removes a copy of the tenant a move left behind (its node stopped
    /// after the switch); `false`, removing nothing, when the directory says
    /// the tenant lives there.
    ///
    /// # Errors
    /// When the directory cannot be read or the removal fails.
    pub async fn remove_old_copy(
        &self,
        tenant: TenantId,
        isolation: Isolation,
        placement: Option<&str>,
    ) -> Result<bool> {
        let row = tenant::Entity::find_by_id(tenant.as_uuid())
            .one(&self.db)
            .await
            .or_unexpected()?
            .ok_or(Error::NotFound(domain::error::Entity::Tenant))?;
        let lives_there = row.isolation == isolation.as_str()
            && (isolation != Isolation::Database || row.placement.as_deref() == placement);
        if lives_there {
            return Ok(false);
        }
        self.remove_copy(tenant, isolation, placement).await?;
        Ok(true)
    }

    /// Makes the target empty and ready: a fresh schema or database (a
    /// half-made one from a failed run removed first). Returns the placement.
    async fn prepare(
        &self,
        tenant: TenantId,
        to: Isolation,
        server: Option<&str>,
    ) -> Result<Option<String>> {
        match to {
            Isolation::Row => {
                // Rows a failed earlier run left in the shared tables.
                self.remove_copy(tenant, to, None).await?;
                Ok(None)
            }
            Isolation::Schema => {
                self.remove_copy(tenant, to, None).await?;
                let tx = self.db.begin().await.or_unexpected()?;
                schema::provision(&tx, tenant).await.or_unexpected()?;
                tx.commit().await.or_unexpected()?;
                Ok(None)
            }
            Isolation::Database => {
                let d = self.databases()?;
                Ok(Some(d.provision_on(tenant, server).await?))
            }
        }
    }

    /// Copies every tenant-plane row from `from` to `to` (parents first) in
    /// one target transaction, and checks the counts before it commits.
    async fn copy(
        &self,
        tenant: TenantId,
        from: Isolation,
        to: Isolation,
        tracker: &Tracker<'_>,
    ) -> Result<Vec<(&'static str, u64)>> {
        let level = (self.db.get_database_backend() == DbBackend::Postgres)
            .then_some(sea_orm::IsolationLevel::RepeatableRead);
        let src = self
            .open(
                &TenantContext::system(tenant, from),
                TxMode::Read,
                level,
                super::Check::None,
            )
            .await?;
        let dst = self
            .open(
                &TenantContext::system(tenant, to),
                TxMode::Write,
                None,
                super::Check::None,
            )
            .await?;
        let tables = super::registry::TABLES;
        tracker.update(|p| {
            p.phase = MovePhase::Copying;
            p.tables_total = u32::try_from(tables.len()).unwrap_or(u32::MAX);
        });
        let written = |n: u64| tracker.update(|p| p.rows_copied += n);
        let mut rows = Vec::with_capacity(tables.len());
        for table in tables {
            rows.push((table.name(), table.copy(&src, &dst, &written).await?));
            tracker.update(|p| p.tables_done += 1);
        }
        Box::new(dst).commit().await?;
        Ok(rows)
    }

    /// Removes a copy of the tenant; logs instead of failing, since the
    /// move's outcome is already decided when this runs.
    async fn discard(&self, tenant: TenantId, isolation: Isolation, placement: Option<&str>) {
        if let Err(e) = self.remove_copy(tenant, isolation, placement).await {
            tracing::error!(tenant = %tenant, %isolation, error = %e, "removing a tenant's old copy");
        }
    }

    /// The tenant's rows in the shared tables, its schema, or its database.
    async fn remove_copy(
        &self,
        tenant: TenantId,
        isolation: Isolation,
        placement: Option<&str>,
    ) -> Result<()> {
        match isolation {
            Isolation::Row => {
                let ctx = TenantContext::system(tenant, isolation);
                let tx = self
                    .open(&ctx, TxMode::Write, None, super::Check::None)
                    .await?;
                tx.purge().await?;
                Box::new(tx).commit().await
            }
            Isolation::Schema => {
                let tx = self.db.begin().await.or_unexpected()?;
                schema::drop(&tx, tenant).await.or_unexpected()?;
                tx.commit().await.or_unexpected()
            }
            Isolation::Database => match placement {
                Some(p) => self.databases()?.remove(tenant, p).await,
                None => Ok(()),
            },
        }
    }
}

fn where_it_lives(isolation: Isolation, placement: Option<&str>) -> AuditState {
    let mut s: AuditState = [(
        "isolation".to_owned(),
        AuditValue::Text(isolation.as_str().to_owned()),
    )]
    .into();
    if let Some(p) = placement {
        s.insert("placement".to_owned(), AuditValue::Text(p.to_owned()));
    }
    s
}
