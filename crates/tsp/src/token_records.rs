//! Records of the token's life (docs/protocol.md §15): a token as its participants see it,
//! its history, the changes and relinks the core makes of it, and the events that go with
//! them. The store persists these as they are.

use crate::Sealed;
use crate::lifecycle::{Actor, Change, TokenStatus};

/// A token as its issuer, its requestor or the operator reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenView {
    /// Reference id.
    pub token_ref_id: String,
    /// Status.
    pub status: TokenStatus,
    /// Who suspended it, while it is suspended.
    pub suspended_by: Option<Actor>,
    /// Last four digits of the token PAN.
    pub last4: String,
    /// Token expiry month.
    pub exp_month: u8,
    /// Token expiry year.
    pub exp_year: u16,
    /// The card's issuer.
    pub issuer_id: String,
    /// The wallet.
    pub token_requestor_id: String,
    /// The wallet's user.
    pub wallet_user_id: String,
    /// The device.
    pub device_id: String,
    /// The funding account's reference.
    pub account_ref: String,
    /// The keyed hash of the funding PAN.
    pub pan_hash: [u8; 32],
    /// Unix seconds.
    pub created_at: i64,
    /// Changes (and events) so far: the next one is number `event_seq + 1`.
    pub event_seq: u64,
    /// Its authorisations so far.
    pub usage: crate::payment_wire::TokenUsage,
    /// Every change, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// One entry of a token's append-only history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Its number, from 1 (the token's event sequence).
    pub seq: u64,
    /// The status it left the token in.
    pub status: TokenStatus,
    /// Why (a reason code).
    pub reason: String,
    /// Who (an actor).
    pub actor: String,
    /// The issuer's call-centre agent, when one acted.
    pub agent_id: Option<String>,
    /// Unix seconds.
    pub at: i64,
}

/// A token event for one recipient, sealed, for the outbox.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// The outbox message id.
    pub message_id: String,
    /// Delivered in `sequence` order among the messages of one key (recipient and token).
    pub ordering_key: String,
    /// The token's event sequence.
    pub sequence: u64,
    /// The sealed [`crate::EventDelivery`].
    pub payload: Sealed,
}

/// A change of one token, committed if the token is still at `change.from` and `event_seq`.
#[derive(Debug, Clone)]
pub struct TokenChange {
    /// The token.
    pub token_ref_id: String,
    /// The token's sequence when it was read.
    pub event_seq: u64,
    /// The change.
    pub change: Change,
    /// The issuer's call-centre agent, when one acted.
    pub agent_id: Option<String>,
    /// Unix seconds.
    pub at: i64,
    /// For a card reissue: the new funding card.
    pub relink: Option<Relink>,
    /// The events of the change, one per recipient with a notification URL.
    pub events: Vec<EventRow>,
}

/// A reissued card a token is moved to.
#[derive(Debug, Clone)]
pub struct Relink {
    /// A new PAN: its keyed hash and the PAN sealed for this token (`None`: the PAN stays).
    pub pan: Option<([u8; 32], Sealed)>,
    /// The card's new expiry month.
    pub card_exp_month: u8,
    /// The card's new expiry year.
    pub card_exp_year: u16,
}

/// Which tokens a search is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSearch {
    /// An issuer's (or, `None`, every issuer's: the operator) live tokens of a card.
    Card {
        /// The issuer, unless the operator searches.
        issuer_id: Option<String>,
        /// The keyed hash of the PAN.
        pan_hash: [u8; 32],
    },
    /// A token requestor's live tokens, of a user, of a device, or of both.
    Wallet {
        /// The token requestor.
        token_requestor_id: String,
        /// The user.
        wallet_user_id: Option<String>,
        /// The device.
        device_id: Option<String>,
    },
}

/// What a change of one token is decided on: the token, and whether each party has a
/// notification URL (an event is queued only for those that do).
#[derive(Debug, Clone)]
pub struct TokenFacts {
    /// The token.
    pub view: TokenView,
    /// Whether the card's issuer has a notification URL.
    pub issuer_notified: bool,
    /// Whether the token's requestor has a notification URL.
    pub token_requestor_notified: bool,
}

/// A dead-lettered event, as the operator sees it (never the payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadEvent {
    /// The outbox message id.
    pub message_id: String,
    /// Recipient and token.
    pub ordering_key: String,
    /// The token's event sequence.
    pub sequence: u64,
    /// Attempts made.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was dead-lettered (Unix seconds).
    pub dead_at: i64,
}

impl TokenView {
    /// The token as `change` leaves it (what the store holds once it is committed).
    pub fn after(mut self, change: &TokenChange) -> Self {
        let to = change.change.to;
        self.status = to.status;
        self.suspended_by = to.suspended_by;
        self.event_seq = change.event_seq + 1;
        if let Some((pan_hash, _)) = change.relink.as_ref().and_then(|r| r.pan.as_ref()) {
            self.pan_hash = *pan_hash;
        }
        self.history.push(HistoryEntry {
            seq: self.event_seq,
            status: to.status,
            reason: change.change.reason.as_str().into(),
            actor: change.change.actor.as_str().into(),
            agent_id: change.agent_id.clone(),
            at: change.at,
        });
        self
    }
}
