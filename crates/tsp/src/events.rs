//! Token events for the card's issuer and the token's requestor (docs/protocol.md §15): each
//! change of a token is one event per recipient, committed to the outbox with the change, and
//! delivered as a compact JWS (ES256, the token service's signing key) until a 2xx.
//!
//! Delivery is at least once: `event_id` lets the receiver drop duplicates, `sequence` (per
//! token, from 1) orders them. A failed delivery is retried after an exponential backoff with
//! jitter ([`retry_delay`]); after [`EventConfig::max_attempts`] it is dead-lettered for the
//! operator to look at and re-drive.

use provisio_crypto::CryptoProvider;
use provisio_types::UnixSeconds;
use serde::{Deserialize, Serialize};

use crate::lifecycle::Change;
use crate::{PushError, TspKeys};

/// The outbox channel of token events.
pub const EVENT_CHANNEL: &str = "token_event";

/// One token event, as it is signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEvent {
    /// Unique id of this event (the same for each recipient, so a receiver of both copies,
    /// unusual, sees one event).
    pub event_id: String,
    /// `TOKEN_CREATED`, `TOKEN_ACTIVATED`, ...
    #[serde(rename = "type")]
    pub event_type: String,
    /// The token.
    pub token_ref_id: String,
    /// Its status after the change.
    pub status: String,
    /// Why.
    pub reason: String,
    /// Who.
    pub actor: String,
    /// Per token, from 1, in the order of the changes.
    pub sequence: u64,
    /// When (Unix seconds).
    pub occurred_at: UnixSeconds,
}

/// Where an event goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// The card's issuer.
    Issuer,
    /// The token's requestor.
    TokenRequestor,
}

/// What the outbox carries for one recipient (sealed, like every outbox payload).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventDelivery {
    /// Whose URL.
    pub recipient: Recipient,
    /// The participant's id.
    pub participant_id: String,
    /// The event.
    pub event: TokenEvent,
}

/// Delivery limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventConfig {
    /// Attempts before an event is dead-lettered (default 12).
    pub max_attempts: u32,
    /// The first retry's delay in seconds (default 5); each retry doubles it.
    pub first_retry_s: i64,
    /// The longest delay between two attempts in seconds (default 3,600).
    pub max_retry_s: i64,
}

impl Default for EventConfig {
    fn default() -> Self {
        Self {
            max_attempts: 12,
            first_retry_s: 5,
            max_retry_s: 3600,
        }
    }
}

impl TokenEvent {
    /// The event of a change of token `token_ref_id`.
    pub fn of(
        event_id: String,
        token_ref_id: &str,
        change: &Change,
        sequence: u64,
        occurred_at: UnixSeconds,
    ) -> Self {
        Self {
            event_id,
            event_type: change.event.as_str().into(),
            token_ref_id: token_ref_id.into(),
            status: change.to.status.as_str().into(),
            reason: change.reason.as_str().into(),
            actor: change.actor.as_str().into(),
            sequence,
            occurred_at,
        }
    }

    /// The event as a compact JWS under the token service's current signing key
    /// (`typ` `provisio-token-event+jws`).
    pub fn sign(&self, crypto: &dyn CryptoProvider, keys: &TspKeys) -> Result<String, PushError> {
        let payload = serde_json::to_vec(self).map_err(|_| PushError::Internal)?;
        let key = keys.current_sig();
        provisio_jose::sign(
            crypto,
            &key.key,
            &key.kid,
            Some("provisio-token-event+jws"),
            &payload,
        )
        .map_err(|_| PushError::Internal)
    }
}

/// The delay before attempt `attempts + 1`, after `attempts` failed ones: `first_retry_s`
/// doubled per failure up to `max_retry_s`, with "equal jitter" (half fixed, half drawn from
/// `jitter`, a random number): receivers that failed together do not come back together.
pub fn retry_delay(config: &EventConfig, attempts: u32, jitter: u64) -> i64 {
    let exponent = attempts.saturating_sub(1).min(30);
    let base = config
        .first_retry_s
        .max(1)
        .saturating_mul(1_i64 << exponent)
        .min(config.max_retry_s.max(1));
    let half = base / 2;
    let spread = u64::try_from(base - half).unwrap_or(1).max(1);
    (half + i64::try_from(jitter % spread).unwrap_or(0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_and_a_cap() {
        let c = EventConfig::default();
        for jitter in [0, 1, 7, u64::MAX] {
            let d1 = retry_delay(&c, 1, jitter);
            assert!((2..=5).contains(&d1), "{d1}");
            let d4 = retry_delay(&c, 4, jitter);
            assert!((20..=40).contains(&d4), "{d4}");
            let d30 = retry_delay(&c, 30, jitter);
            assert!((1800..=3600).contains(&d30), "{d30}");
        }
        assert_ne!(
            retry_delay(&c, 6, 3),
            retry_delay(&c, 6, 4),
            "jitter spreads them"
        );
        // Never due at once, even with the shortest first delay.
        let quick = EventConfig {
            first_retry_s: 1,
            ..c
        };
        assert!((0..64).all(|j| retry_delay(&quick, 1, j) >= 1));
    }

    #[test]
    fn an_event_signs_and_verifies_under_the_published_key() {
        let crypto = provisio_crypto::AwsLcProvider::new();
        let (keys, _) =
            TspKeys::generate(&crypto, &provisio_crypto::SecretBytes::new(vec![7; 32]), 1).unwrap();
        use crate::lifecycle::{Action, Actor, Reason, Standing};
        use crate::records::TokenStatus;
        let change = Standing::of(TokenStatus::Active)
            .apply(Action::Suspend, Actor::TokenRequestor, Reason::Lost)
            .unwrap();
        let e = TokenEvent::of("ev_1".into(), "tr_1", &change, 2, 100);
        let jws = e.sign(&crypto, &keys).unwrap();
        let jwks = keys.jwks();
        let verified = provisio_jose::verify(&crypto, &jws, |h| {
            jwks.keys
                .iter()
                .find(|k| k.kid == h.kid)
                .and_then(|k| k.public_key().ok())
                .ok_or(provisio_jose::JoseError::UnknownKey)
        })
        .unwrap();
        let back: TokenEvent = serde_json::from_slice(&verified.payload).unwrap();
        assert_eq!(back, e);
        let json: serde_json::Value = serde_json::from_slice(&verified.payload).unwrap();
        assert_eq!(json["type"], "TOKEN_SUSPENDED");
        assert!(!String::from_utf8_lossy(&verified.payload).contains("pan"));
    }
}
