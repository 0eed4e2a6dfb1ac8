//! [`crate::ScriptStore`] on [`SqlStore`]: each method one job on a store thread, its arguments
//! moved into it.

use async_trait::async_trait;

use super::SqlStore;
use crate::db::scripts;
use crate::{ScriptRecord, ScriptStore, StoreError};

#[async_trait]
impl ScriptStore for SqlStore {
    async fn script(&self, provisioning_id: &str) -> Result<Option<ScriptRecord>, StoreError> {
        let provisioning_id = provisioning_id.to_owned();
        self.read(move |c| scripts::script(c, &provisioning_id))
            .await
    }

    async fn complete_script(&self, provisioning_id: &str, now: i64) -> Result<(), StoreError> {
        let provisioning_id = provisioning_id.to_owned();
        self.write(move |c| scripts::complete_script(c, &provisioning_id, now))
            .await
    }

    async fn fail_script(
        &self,
        provisioning_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let provisioning_id = provisioning_id.to_owned();
        let reason = reason.to_owned();
        self.write(move |c| scripts::fail_script(c, &provisioning_id, &reason, now))
            .await
    }
}
