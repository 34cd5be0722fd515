//! A tenant's data as JSON lines, for backups, moves and "download my data".

use super::SqlTenancy;
use crate::entities::{idempotency_key, invitation, project, task};
use domain::ports::TxMode;
use domain::{Result, TenantContext};
use std::io::Write;

impl SqlTenancy {
    /// Writes every tenant-plane row of the context's tenant to `out`, one
    /// `{"table": …, "row": {…}}` per line, parents before children, all
    /// read in one transaction (one snapshot on PostgreSQL). Returns the
    /// number of rows.
    ///
    /// # Errors
    /// When reading or writing fails.
    pub async fn export(&self, ctx: &TenantContext, out: &mut (dyn Write + Send)) -> Result<u64> {
        let tx = self.bind(ctx, TxMode::Read).await?;
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
