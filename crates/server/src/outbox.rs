//! Delivery of the notification outbox (step-up codes): a background task claims committed
//! messages, opens them, hands them to a sink and records the result. A message is committed
//! with the code it carries, so nothing acknowledged is lost; a crash between delivery and the
//! record means the message is delivered again after its lease (at least once; the gateway
//! de-duplicates by `message_id`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use provisio_tsp::{open_notification, Notification};

use crate::AppState;

/// How long a claimed message is reserved for one deliverer.
const LEASE_S: i64 = 60;
/// Wait before a failed message is tried again.
const RETRY_S: i64 = 30;
/// Messages per claim.
const BATCH: u32 = 16;
/// Poll interval when nothing wakes the task.
const POLL: Duration = Duration::from_secs(1);

/// Where notifications go.
#[async_trait]
pub trait NotificationSink: Send + Sync + 'static {
    /// Delivers one notification; an error is retried later.
    async fn deliver(&self, n: &Notification) -> Result<(), String>;
}

/// POSTs each notification as JSON (`message_id`, `channel`, `to`, `text`) to a gateway.
#[derive(Debug, Clone)]
pub struct WebhookSink {
    url: String,
    client: reqwest::Client,
}

impl WebhookSink {
    /// A sink posting to `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }
}

#[async_trait]
impl NotificationSink for WebhookSink {
    async fn deliver(&self, n: &Notification) -> Result<(), String> {
        let r = self
            .client
            .post(&self.url)
            .json(n)
            .send()
            .await
            .map_err(|e| format!("webhook: {}", e.without_url()))?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(format!("webhook answered {}", r.status()))
        }
    }
}

/// Keeps notifications in memory: the demo's phone reads its codes from here.
#[derive(Debug, Default)]
pub struct MemorySink {
    delivered: Mutex<Vec<Notification>>,
}

impl MemorySink {
    /// Every notification delivered so far.
    pub fn delivered(&self) -> Vec<Notification> {
        self.delivered.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl NotificationSink for MemorySink {
    async fn deliver(&self, n: &Notification) -> Result<(), String> {
        self.delivered
            .lock()
            .map_err(|_| "sink poisoned".to_owned())?
            .push(n.clone());
        Ok(())
    }
}

/// Starts the deliverer. It runs until the runtime stops.
pub fn spawn_delivery(
    state: AppState,
    sink: Arc<dyn NotificationSink>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match deliver_due(&state, sink.as_ref()).await {
                Ok(n) if n == BATCH as usize => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox: claim failed"),
            }
            let _ = tokio::time::timeout(POLL, state.outbox_wake.notified()).await;
        }
    })
}

/// Delivers the messages due now; returns how many were claimed.
async fn deliver_due(
    state: &AppState,
    sink: &dyn NotificationSink,
) -> Result<usize, provisio_store::StoreError> {
    let now = state.clock.now();
    let claimed = state.store.claim_outbox(now, LEASE_S, BATCH).await?;
    for m in &claimed {
        let result = open_notification(
            state.crypto.as_ref(),
            state.keys.vault(),
            &m.message_id,
            &m.payload,
        )
        .map_err(|e| e.to_string());
        let result = match result {
            Ok(n) => sink.deliver(&n).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                state
                    .store
                    .outbox_delivered(&m.message_id, state.clock.now())
                    .await?;
                tracing::info!(message_id = %m.message_id, channel = %m.channel, "notification delivered");
            }
            Err(e) => {
                tracing::warn!(message_id = %m.message_id, error = %e, "notification not delivered; will retry");
                state
                    .store
                    .outbox_failed(&m.message_id, state.clock.now() + RETRY_S, &e)
                    .await?;
            }
        }
    }
    Ok(claimed.len())
}
