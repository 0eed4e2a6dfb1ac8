//! The store's scripts role.

use async_trait::async_trait;

use crate::{ScriptRecord, StoreError};

/// Installation scripts and their completion.
#[async_trait]
pub trait ScriptStore: Send + Sync + 'static {
    /// The script sent for a provisioning, with its owner.
    async fn script(&self, provisioning_id: &str) -> Result<Option<ScriptRecord>, StoreError>;

    /// Marks a script complete and its token payment-ready, once.
    async fn complete_script(&self, provisioning_id: &str, now: i64) -> Result<(), StoreError>;

    /// Records that the TSM could not install a script's credential, once, and only if it was
    /// not completed ([`crate::Conflict::ScriptCompleted`] otherwise).
    async fn fail_script(
        &self,
        provisioning_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError>;
}
