//! [`TenantLifecycle`] over this deployment's storage: moves and orphans
//! through the tenancy's strategies, exports through the registry, deletion
//! through the domain's own order.

use crate::authz::SqlAccessStore;
use crate::db::Storage;
use crate::identity::SqlIdentityStore;
use crate::tenancy::SqlTenancy;
use async_trait::async_trait;
use domain::identity::Tenant;
use domain::lifecycle::{Moved, Orphan, TenantLifecycle};
use domain::moves::{MovePlan, MoveProgress};
use domain::ports::AccessStore;
use domain::usage::StoredRows;
use domain::{Error, Isolation, Result, TenantContext, TenantId};
use serde_json::json;
use std::time::Duration;

pub struct SqlTenantLifecycle {
    pub(crate) storage: Storage,
    pub(crate) tenancy: SqlTenancy,
    pub(crate) identity: SqlIdentityStore,
    pub(crate) access: SqlAccessStore,
}

/// Members read per query while exporting.
const PAGE: u64 = 500;

#[async_trait]
impl TenantLifecycle for SqlTenantLifecycle {
    async fn move_with(
        &self,
        tenant: TenantId,
        plan: &MovePlan,
        progress: &dyn MoveProgress,
    ) -> Result<Moved> {
        self.storage.move_tenant(tenant, plan, progress).await
    }

    async fn check_move(&self, from: Isolation, to: Isolation, server: Option<&str>) -> Result<()> {
        self.tenancy.check_move(from, to, server)
    }

    async fn remove_old_copy(
        &self,
        tenant: TenantId,
        isolation: Isolation,
        placement: Option<&str>,
    ) -> Result<bool> {
        self.tenancy
            .remove_old_copy(tenant, isolation, placement)
            .await
    }

    async fn stored_rows(&self, tenant: TenantId, isolation: Isolation) -> Result<StoredRows> {
        let ctx = TenantContext::system(tenant, isolation);
        domain::usage::stored_rows(&self.tenancy, &ctx).await
    }

    async fn export(&self, tenant: &Tenant, out: &mut (dyn std::io::Write + Send)) -> Result<u64> {
        // The operator acts for the tenant, found in the directory by the caller.
        let ctx = TenantContext::system(tenant.id, tenant.isolation);
        let mut line = |value: serde_json::Value| {
            writeln!(out, "{value}").map_err(|e| Error::unexpected(format!("writing: {e}")))
        };
        line(
            json!({ "tenant": { "id": tenant.id.to_string(), "slug": tenant.slug.as_str(),
                                 "name": tenant.name.as_str(), "isolation": tenant.isolation.as_str(),
                                 "createdAt": tenant.created_at } }),
        )?;
        let mut after = None;
        loop {
            let page = self.access.members(&ctx, after, PAGE).await?;
            for m in &page {
                line(
                    json!({ "member": { "userId": m.user.id.to_string(), "email": m.user.email.as_str(),
                                         "role": m.role.as_str(), "joinedAt": m.joined_at } }),
                )?;
            }
            match page.last() {
                Some(m) if page.len() as u64 == PAGE => after = Some(m.user.id),
                _ => break,
            }
        }
        for r in self.access.custom_roles(&ctx).await? {
            let permissions: Vec<_> = r.permissions.iter().map(|p| p.as_str()).collect();
            line(json!({ "role": { "name": r.name.as_str(), "permissions": permissions } }))?;
        }
        self.tenancy.export(&ctx, out).await
    }

    async fn delete(&self, tenant: &Tenant) -> Result<u64> {
        domain::lifecycle::delete_tenant(&self.tenancy, &self.identity, tenant).await
    }

    async fn orphans(&self, min_age: Duration) -> Result<Vec<Orphan>> {
        self.storage.orphans(min_age).await
    }

    async fn remove_orphan(&self, orphan: &Orphan) -> Result<bool> {
        self.storage.remove_orphan(orphan).await
    }
}
