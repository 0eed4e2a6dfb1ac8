//! [`crate::ScriptStore`] on [`SqlStore`]: each method one job on a store thread, its arguments
//! moved into it.

use async_trait::async_trait;
use provisio_tsp::ScriptEnd;

use super::SqlStore;
use crate::db::scripts;
use crate::{ScriptFacts, ScriptFactsQuery, ScriptRecord, ScriptStore, StoreError};

#[async_trait]
impl ScriptStore for SqlStore {
    async fn script(&self, provisioning_id: &str) -> Result<Option<ScriptRecord>, StoreError> {
        let provisioning_id = provisioning_id.to_owned();
        self.read(move |c| scripts::script(c, &provisioning_id))
            .await
    }

    async fn load_script_facts(&self, q: &ScriptFactsQuery) -> Result<ScriptFacts, StoreError> {
        let q = q.clone();
        self.read(move |c| scripts::facts(c, &q)).await
    }

    async fn end_script(&self, end: &ScriptEnd) -> Result<(), StoreError> {
        let end = end.clone();
        self.write(move |c| scripts::end_script(c, &end)).await
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
