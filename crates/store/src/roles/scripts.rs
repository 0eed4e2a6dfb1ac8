//! The store's scripts role.

use async_trait::async_trait;
use provisio_tsp::ScriptEnd;

use crate::{ScriptFacts, ScriptFactsQuery, ScriptRecord, StoreError};

/// Installation scripts and their completion.
#[async_trait]
pub trait ScriptStore: Send + Sync + 'static {
    /// The script sent for a provisioning, with its owner.
    async fn script(&self, provisioning_id: &str) -> Result<Option<ScriptRecord>, StoreError>;

    /// Everything a device's script report needs, in one job on one connection: the script
    /// with its owner, and the hosted account.
    async fn load_script_facts(&self, q: &ScriptFactsQuery) -> Result<ScriptFacts, StoreError>;

    /// Records how a script ended, once: completed (its token payment-ready) or failed by the
    /// TSM. A script that ended before is [`crate::Conflict::ScriptCompleted`], nothing written.
    async fn end_script(&self, end: &ScriptEnd) -> Result<(), StoreError>;

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
