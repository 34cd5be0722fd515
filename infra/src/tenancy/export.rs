//! A tenant's data as JSON lines, for backups, moves and "download my data".
//! Webhook secrets are left out (a file travels further than a database), and
//! so is the outbox, whose events are in flight.

use super::SqlTenancy;
use crate::entities::{idempotency_key, invitation, project, task, webhook, webhook_delivery};
use domain::ports::TxMode;
use domain::{Result, TenantContext};
use std::io::Write;

impl SqlTenancy {
    /// Writes every tenant-plane row of the context's tenant to `out`, one
    /// `{"table": …, "row": {…}}` per line, parents before children, all
    /// read in one repeatable-read transaction (one snapshot on PostgreSQL;
    /// SQLite transactions are snapshots anyway). Returns the number of rows.
    ///
    /// # Errors
    /// When reading or writing fails.
    pub async fn export(&self, ctx: &TenantContext, out: &mut (dyn Write + Send)) -> Result<u64> {
        let level = (self.db.get_database_backend() == sea_orm::DbBackend::Postgres)
            .then_some(sea_orm::IsolationLevel::RepeatableRead);
        let tx = self.bind_with(ctx, TxMode::Read, level).await?;
        let tables = [
            ("projects", tx.rows_as_json::<project::Entity>().await?),
            ("tasks", tx.rows_as_json::<task::Entity>().await?),
            (
                "invitations",
                tx.rows_as_json::<invitation::Entity>().await?,
            ),
            (
                "idempotency_keys",
                tx.rows_as_json::<idempotency_key::Entity>().await?,
            ),
            (
                "webhooks",
                redact_secrets(tx.rows_as_json::<webhook::Entity>().await?),
            ),
            (
                "webhook_deliveries",
                tx.rows_as_json::<webhook_delivery::Entity>().await?,
            ),
        ];
        let mut n = 0;
        for (table, rows) in tables {
            for row in rows {
                let line = serde_json::json!({ "table": table, "row": row });
                writeln!(out, "{line}").map_err(domain::Error::unexpected)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

fn redact_secrets(mut rows: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    for row in &mut rows {
        if let Some(secret) = row.get_mut("secret") {
            *secret = serde_json::Value::Null;
        }
    }
    rows
}
