//! The store's outbox role.

use async_trait::async_trait;
use provisio_tsp::OutboxMessage;

use crate::StoreError;

/// The durable outbox of messages to deliver (codes, TSM jobs).
#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Claims up to `limit` undelivered messages due at `now` for `lease_s` seconds.
    async fn claim_outbox(
        &self,
        now: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Records a delivery.
    async fn outbox_delivered(&self, message_id: &str, now: i64) -> Result<(), StoreError>;

    /// Records a failed delivery; the message is tried again from `retry_at`.
    async fn outbox_failed(
        &self,
        message_id: &str,
        retry_at: i64,
        error: &str,
    ) -> Result<(), StoreError>;

    /// Records a failed last attempt: the message is dead-lettered, for an operator to look
    /// at and re-drive.
    async fn outbox_dead(&self, message_id: &str, now: i64, error: &str) -> Result<(), StoreError>;
}
