//! [`crate::OutboxStore`] on [`SqlStore`]: each method one job on a store thread, its arguments
//! moved into it.

use async_trait::async_trait;
use provisio_tsp::OutboxMessage;

use super::SqlStore;
use crate::db::outbox;
use crate::{OutboxStore, StoreError};

#[async_trait]
impl OutboxStore for SqlStore {
    async fn claim_outbox(
        &self,
        now: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.write(move |c| outbox::claim(c, now, lease_s, limit))
            .await
    }

    async fn outbox_delivered(&self, message_id: &str, now: i64) -> Result<(), StoreError> {
        let message_id = message_id.to_owned();
        self.write(move |c| outbox::delivered(c, &message_id, now))
            .await
    }

    async fn outbox_failed(
        &self,
        message_id: &str,
        retry_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        let message_id = message_id.to_owned();
        let error = error.to_owned();
        self.write(move |c| outbox::failed(c, &message_id, retry_at, &error))
            .await
    }

    async fn outbox_dead(&self, message_id: &str, now: i64, error: &str) -> Result<(), StoreError> {
        let message_id = message_id.to_owned();
        let error = error.to_owned();
        self.write(move |c| outbox::dead_letter(c, &message_id, now, &error))
            .await
    }
}
