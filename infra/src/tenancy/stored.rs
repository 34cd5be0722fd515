//! What a tenant stores that its plan counts (see `domain::plan::Stored`).

use super::bound::Bound;
use crate::entities::{project, task};
use domain::Result;
use domain::plan::Stored;
use sea_orm::QuerySelect;

/// Separates the advisory locks of stored kinds from a tenant's other locks.
const STORED_LOCK_SPACE: i32 = 0x7374_0000;
/// The invitations' turn, after the [`Stored`] kinds'.
const INVITATIONS: i32 = 0x100;

impl Bound {
    /// Rows of `what`, counted up to `up_to`: the count reads at most that
    /// many index entries, however much the tenant holds.
    pub(crate) async fn stored_rows(&self, what: Stored, up_to: u32) -> Result<u64> {
        let limit = u64::from(up_to);
        match what {
            Stored::Projects => {
                self.count_limited(
                    self.select::<project::Entity>()
                        .and(|q| q.select_only().column(project::Column::Id).limit(limit)),
                )
                .await
            }
            Stored::Tasks => {
                self.count_limited(
                    self.select::<task::Entity>()
                        .and(|q| q.select_only().column(task::Column::Id).limit(limit)),
                )
                .await
            }
        }
    }

    pub(crate) async fn lock_stored_kind(&self, what: Stored) -> Result<()> {
        self.advisory_lock(STORED_LOCK_SPACE + what as i32).await
    }

    /// Invitations count against the members limit: they take turns too.
    pub(crate) async fn lock_invitation_turn(&self) -> Result<()> {
        self.advisory_lock(STORED_LOCK_SPACE + INVITATIONS).await
    }
}
