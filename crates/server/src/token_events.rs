//! Token events out of the outbox (docs/protocol.md §15.5): each is signed when it is sent
//! (ES256 under the service's current signing key, `Content-Type: application/jose`) and
//! POSTed to its recipient's notification URL as it is at that moment, until a 2xx. The
//! outbox hands out one event per recipient and token at a time, in sequence order; a failed
//! one is retried after an exponential backoff with jitter and dead-lettered after its last
//! attempt. Also here: the sweep that deletes pending tokens whose time ran out.

use std::time::Duration;

use provisio_crypto::CryptoProvider;

use provisio_store::{Conflict, Role, StoreError};
use provisio_tsp::{
    Action, Ask, ChangeContext, EventDelivery, OutboxMessage, Reason, Recipient, TokenCaller,
    decide, retry_delay,
};

use crate::AppState;
use crate::routes::tls_or_loopback;

/// Why an event was not delivered this time.
pub(crate) struct Failed(pub(crate) String);

/// POSTs one event to its recipient.
pub(crate) async fn deliver_event(state: &AppState, m: &OutboxMessage) -> Result<(), Failed> {
    let crypto = state.crypto.as_ref();
    let plain = state
        .keys
        .vault()
        .open(
            crypto,
            &m.payload,
            format!("outbox:{}", m.message_id).as_bytes(),
        )
        .map_err(|_| Failed("the event does not open under the vault key".into()))?;
    let delivery: EventDelivery = serde_json::from_slice(plain.expose())
        .map_err(|_| Failed("the event is not readable".into()))?;
    let role = match delivery.recipient {
        Recipient::Issuer => Role::Issuer,
        Recipient::TokenRequestor => Role::TokenRequestor,
    };
    let url = state
        .store
        .notification_url(role, &delivery.participant_id)
        .await
        .map_err(|e| Failed(format!("store: {e}")))?
        .ok_or_else(|| Failed("the recipient has no notification_url".into()))?;
    if !tls_or_loopback(&url) {
        return Err(Failed("the notification_url is not https".into()));
    }
    let jws = delivery
        .event
        .sign(crypto, &state.keys)
        .map_err(|_| Failed("signing failed".into()))?;
    let answer = state
        .http
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, "application/jose")
        .body(jws)
        .send()
        .await
        .map_err(|e| Failed(format!("post: {}", e.without_url())))?;
    if answer.status().is_success() {
        Ok(())
    } else {
        Err(Failed(format!(
            "the recipient answered {}",
            answer.status()
        )))
    }
}

/// Records a failed attempt: retried after the backoff, or dead-lettered after the last.
pub(crate) async fn record_failure(
    state: &AppState,
    m: &OutboxMessage,
    error: &str,
) -> Result<(), StoreError> {
    let config = &state.config.events;
    let attempts = m.attempts.saturating_add(1);
    let now = state.clock.now();
    if attempts >= config.max_attempts {
        tracing::error!(message_id = %m.message_id, attempts, error, "token event dead-lettered");
        state.metrics.event_dead_lettered();
        return state.store.outbox_dead(&m.message_id, now, error).await;
    }
    let mut jitter = [0u8; 8];
    let _ = state.crypto.as_ref().fill_random(&mut jitter);
    let delay = retry_delay(config, attempts, u64::from_le_bytes(jitter));
    tracing::warn!(message_id = %m.message_id, attempts, delay_s = delay, error, "token event not delivered; will retry");
    state
        .store
        .outbox_failed(&m.message_id, now + delay, error)
        .await
}

/// How often the sweep of pending tokens runs.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Tokens per sweep round.
const SWEEP_BATCH: u32 = 100;

/// Starts the sweep of pending tokens. It runs until the runtime stops.
pub fn spawn_pending_sweep(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match sweep_pending(&state).await {
                Ok(n) if n == SWEEP_BATCH as usize => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pending token sweep failed"),
            }
            tokio::time::sleep(SWEEP_EVERY).await;
        }
    })
}

/// Deletes (reason `OTHER`, by the service) up to one batch of tokens that stayed
/// `INACTIVE` longer than the configured time, and closes their step-ups; returns how many
/// were found. A token that changed meanwhile (its step-up passed) is left alone.
pub async fn sweep_pending(state: &AppState) -> Result<usize, StoreError> {
    let now = state.clock.now();
    let before = now - state.config.pending_token_ttl_s;
    let pending = state.store.pending_tokens(before, SWEEP_BATCH).await?;
    let ctx = ChangeContext {
        crypto: state.crypto.as_ref(),
        vault: state.keys.vault(),
        now,
    };
    let ask = Ask {
        caller: &TokenCaller::System,
        action: Action::Delete,
        reason: Reason::Other,
        reissue: None,
    };
    for id in &pending {
        let Some(facts) = state.store.token_facts(id).await? else {
            continue;
        };
        let Ok(change) = decide(&ctx, &facts, &ask) else {
            continue;
        };
        match state
            .store
            .commit_token_changes(std::slice::from_ref(&change), None)
            .await
        {
            Ok(()) => {
                tracing::info!(token_ref_id = %id, "pending token expired and deleted");
                if !change.events.is_empty() {
                    state.outbox_wake.notify_one();
                }
            }
            Err(StoreError::Conflict(Conflict::TokenVersion)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(pending.len())
}
