//! A tenant's data as JSON lines, for backups, moves and "download my data".
//! What each table gives is declared in [`super::registry`]: webhook secrets
//! are blanked (a file travels further than a database), and the outbox,
//! whose events are in flight, is left out.

use super::SqlTenancy;
use super::registry::Export;
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
        let mut n = 0;
        for table in super::registry::TABLES {
            let blank = match table.export() {
                Export::Skip => continue,
                Export::Rows => &[][..],
                Export::Redacting(columns) => columns,
            };
            for mut row in table.rows_as_json(&tx).await? {
                for column in blank {
                    if let Some(v) = row.get_mut(*column) {
                        *v = serde_json::Value::Null;
                    }
                }
                let line = serde_json::json!({ "table": table.name(), "row": row });
                writeln!(out, "{line}").map_err(domain::Error::unexpected)?;
                n += 1;
            }
        }
        Ok(n)
    }
}
