//! Delivery of the outbox: step-up codes (to a notification sink) and secure-element jobs (to
//! the issuer's SP-TSM). A background task claims committed messages, opens them, delivers
//! them and records the result. A message is committed with what caused it, so nothing
//! acknowledged is lost; a crash between delivery and the record means the message is
//! delivered again after its lease (at least once; the gateway de-duplicates by `message_id`,
//! the SP-TSM by job id). A job the SP-TSM refuses outright is parked (never retried) with its
//! reason in `last_error`. Token events go to their recipients' notification URLs
//! (`token_events.rs`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use provisio_tsp::{EVENT_CHANNEL, Notification, OutboxMessage, SP_TSM_CHANNEL, open_notification};

use crate::AppState;
use crate::sp_tsm_link::{Undelivered, deliver_job};
use crate::token_events::{Failed, deliver_event, record_failure};

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
                .redirect(reqwest::redirect::Policy::none())
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

/// No gateway configured: notifications wait in the outbox (retried) until one is, while the
/// other channels are delivered.
#[derive(Debug, Default)]
pub struct NoGateway;

#[async_trait]
impl NotificationSink for NoGateway {
    async fn deliver(&self, _: &Notification) -> Result<(), String> {
        Err("no notification_webhook configured".into())
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
        if m.channel == EVENT_CHANNEL {
            match deliver_event(state, m).await {
                Ok(()) => {
                    state.metrics.event_delivered();
                    state
                        .store
                        .outbox_delivered(&m.message_id, state.clock.now())
                        .await?;
                    tracing::info!(message_id = %m.message_id, "token event delivered");
                    // The next event of its key is due now: claim again without waiting.
                    state.outbox_wake.notify_one();
                }
                Err(Failed(e)) => {
                    state.metrics.event_failed();
                    record_failure(state, m, &e).await?;
                }
            }
            continue;
        }
        let result = if m.channel == SP_TSM_CHANNEL {
            deliver_job(state, m).await
        } else {
            notify(state, sink, m).await.map_err(Undelivered::Retry)
        };
        match result {
            Ok(()) => {
                state
                    .store
                    .outbox_delivered(&m.message_id, state.clock.now())
                    .await?;
                tracing::info!(message_id = %m.message_id, channel = %m.channel, "outbox message delivered");
            }
            Err(Undelivered::Retry(e)) => {
                tracing::warn!(message_id = %m.message_id, channel = %m.channel, error = %e, "outbox message not delivered; will retry");
                state
                    .store
                    .outbox_failed(&m.message_id, state.clock.now() + RETRY_S, &e)
                    .await?;
            }
            Err(Undelivered::Refused(e)) => {
                tracing::error!(message_id = %m.message_id, channel = %m.channel, error = %e, "outbox message refused; parked for an operator");
                state
                    .store
                    .outbox_failed(&m.message_id, i64::MAX, &e)
                    .await?;
            }
        }
    }
    Ok(claimed.len())
}

async fn notify(
    state: &AppState,
    sink: &dyn NotificationSink,
    m: &OutboxMessage,
) -> Result<(), String> {
    let n = open_notification(
        state.crypto.as_ref(),
        state.keys.vault(),
        &m.message_id,
        &m.payload,
    )
    .map_err(|e| e.to_string())?;
    sink.deliver(&n).await
}
