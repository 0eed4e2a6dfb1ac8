//! Reading and changing a token once it is minted (docs/protocol.md §15): who sees which token,
//! what a change of it is, and the events each change sends.
//!
//! A route loads the token's [`TokenFacts`], calls [`decide`] once and commits the
//! [`TokenChange`] it returns; the store applies it only if the token is still at the sequence
//! it was read at, so two concurrent changes cannot both apply or interleave their events.

use provisio_crypto::CryptoProvider;
use provisio_types::{Code, Fault, Pan, Refusal, UnixSeconds};

use crate::events::{EventDelivery, Recipient, TokenEvent};
use crate::lifecycle::{Action, Actor, Change, LifecycleError, Reason, Standing};
use crate::stepup::outbox_aad;
use crate::token_records::{EventRow, Relink, TokenChange, TokenFacts, TokenView};
use crate::{VaultKeys, ordered_id};

/// Who asks about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCaller {
    /// An issuer, by id: sees the tokens of its cards.
    Issuer(String),
    /// A token requestor, by id: sees the tokens it requested.
    TokenRequestor(String),
    /// The operator: sees every token.
    Admin,
    /// The service itself (the sweep of pending tokens).
    System,
}

/// Why a read or change of a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// No such token, or not the caller's (never "exists but forbidden").
    #[error("no such token")]
    UnknownToken,
    /// The state machine refused the change.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// The request is not the documented shape.
    #[error("{0}")]
    Malformed(String),
    /// Our failure (cryptography, serialisation).
    #[error("internal error")]
    Internal,
}

impl Refusal for TokenError {
    fn code(&self) -> Code {
        match self {
            Self::UnknownToken => Code::UnknownToken,
            Self::Lifecycle(LifecycleError::InvalidTransition { .. }) => Code::InvalidTransition,
            Self::Lifecycle(_) => Code::Forbidden,
            Self::Malformed(_) => Code::MalformedRequest,
            Self::Internal => Code::InternalError,
        }
    }

    fn fault(&self) -> Fault {
        match self {
            Self::Internal => Fault::Internal,
            _ => Fault::Peer,
        }
    }
}

impl TokenCaller {
    /// The actor this caller changes tokens as.
    pub fn actor(&self) -> Actor {
        match self {
            Self::Issuer(_) => Actor::Issuer,
            Self::TokenRequestor(_) => Actor::TokenRequestor,
            Self::Admin => Actor::Admin,
            Self::System => Actor::System,
        }
    }

    /// Whether the caller may see (and so change) this token: the card's issuer, the token's
    /// requestor, the operator and the service.
    pub fn sees(&self, view: &TokenView) -> bool {
        match self {
            Self::Issuer(id) => *id == view.issuer_id,
            Self::TokenRequestor(id) => *id == view.token_requestor_id,
            Self::Admin | Self::System => true,
        }
    }

    /// `Ok` if the caller sees the token, [`TokenError::UnknownToken`] otherwise.
    pub fn check_sees(&self, view: Option<TokenView>) -> Result<TokenView, TokenError> {
        view.filter(|v| self.sees(v))
            .ok_or(TokenError::UnknownToken)
    }
}

/// A reason code from the wire (`LOST`, `STOLEN`, ...), or 400 naming the allowed ones.
pub fn parse_reason(s: &str) -> Result<Reason, TokenError> {
    Reason::parse(s).ok_or_else(|| {
        let allowed: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        TokenError::Malformed(format!(
            "reason: unknown reason code; one of {}",
            allowed.join(", ")
        ))
    })
}

/// A card reissue: the new PAN (if it changed) and the card's new expiry.
#[derive(Debug, Clone, Copy)]
pub struct Reissue<'a> {
    /// The new PAN, when the card got a new number.
    pub new_pan: Option<&'a Pan>,
    /// The card's new expiry month.
    pub exp_month: u8,
    /// The card's new expiry year.
    pub exp_year: u16,
}

/// What a change needs besides the token.
#[derive(Clone, Copy)]
pub struct ChangeContext<'a> {
    /// Cryptography.
    pub crypto: &'a dyn CryptoProvider,
    /// The vault's keys (sealing a new PAN and the events).
    pub vault: &'a VaultKeys,
    /// When.
    pub now: UnixSeconds,
}

/// One asked change of one token.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// Who asks.
    pub caller: &'a TokenCaller,
    /// What.
    pub action: Action,
    /// Why.
    pub reason: Reason,
    /// For [`Action::Update`]: the reissued card.
    pub reissue: Option<Reissue<'a>>,
}

/// Decides one change of one token: the caller must see it and the state machine allow it.
/// The result carries its history entry and one sealed event per party with a notification
/// URL.
pub fn decide(
    ctx: &ChangeContext<'_>,
    facts: &TokenFacts,
    ask: &Ask<'_>,
) -> Result<TokenChange, TokenError> {
    let view = &facts.view;
    if !ask.caller.sees(view) {
        return Err(TokenError::UnknownToken);
    }
    let standing = Standing {
        status: view.status,
        suspended_by: view.suspended_by,
    };
    let change = standing.apply(ask.action, ask.caller.actor(), ask.reason)?;
    let relink = match (ask.action, ask.reissue) {
        (Action::Update, Some(r)) => Some(relink(ctx, &view.token_ref_id, &r)?),
        (Action::Update, None) => {
            return Err(TokenError::Malformed(
                "a relink needs the reissued card".into(),
            ));
        }
        _ => None,
    };
    let sequence = view.event_seq + 1;
    Ok(TokenChange {
        token_ref_id: view.token_ref_id.clone(),
        event_seq: view.event_seq,
        events: events(ctx, &facts.parties(), &change, sequence)?,
        change,
        agent_id: None,
        at: ctx.now,
        relink,
    })
}

/// Who hears of a token's changes: the parties with a notification URL.
#[derive(Debug, Clone, Copy)]
pub struct Parties<'a> {
    /// The token.
    pub token_ref_id: &'a str,
    /// The card's issuer, if it has a notification URL.
    pub issuer: Option<&'a str>,
    /// The token's requestor, if it has a notification URL.
    pub token_requestor: Option<&'a str>,
}

impl TokenFacts {
    /// Who hears of this token's changes.
    pub fn parties(&self) -> Parties<'_> {
        Parties {
            token_ref_id: &self.view.token_ref_id,
            issuer: self.issuer_notified.then_some(self.view.issuer_id.as_str()),
            token_requestor: self
                .token_requestor_notified
                .then_some(self.view.token_requestor_id.as_str()),
        }
    }
}

/// The events of `change` as the token's number `sequence`: one per party with a notification
/// URL, sealed for the outbox, delivered in sequence order per party and token.
pub fn events(
    ctx: &ChangeContext<'_>,
    parties: &Parties<'_>,
    change: &Change,
    sequence: u64,
) -> Result<Vec<EventRow>, TokenError> {
    let mut rows = Vec::new();
    if parties.issuer.is_none() && parties.token_requestor.is_none() {
        return Ok(rows);
    }
    let event_id = ordered_id(ctx.crypto, "ev_", ctx.now).map_err(|_| TokenError::Internal)?;
    let each = [
        (Recipient::Issuer, parties.issuer),
        (Recipient::TokenRequestor, parties.token_requestor),
    ];
    for (recipient, participant_id) in each {
        let Some(participant_id) = participant_id else {
            continue;
        };
        let delivery = EventDelivery {
            recipient,
            participant_id: participant_id.to_owned(),
            event: TokenEvent::of(
                event_id.clone(),
                parties.token_ref_id,
                change,
                sequence,
                ctx.now,
            ),
        };
        let message_id =
            ordered_id(ctx.crypto, "ob_", ctx.now).map_err(|_| TokenError::Internal)?;
        let json = serde_json::to_vec(&delivery).map_err(|_| TokenError::Internal)?;
        let payload = ctx
            .vault
            .seal(ctx.crypto, &json, &outbox_aad(&message_id))
            .map_err(|_| TokenError::Internal)?;
        rows.push(EventRow {
            ordering_key: ordering_key(recipient, participant_id, parties.token_ref_id),
            message_id,
            sequence,
            payload,
        });
    }
    Ok(rows)
}

/// Events of one party about one token are delivered one at a time, in sequence order.
pub fn ordering_key(recipient: Recipient, participant_id: &str, token_ref_id: &str) -> String {
    let party = match recipient {
        Recipient::Issuer => "issuer",
        Recipient::TokenRequestor => "token_requestor",
    };
    format!("{party}:{participant_id}:{token_ref_id}")
}

fn relink(
    ctx: &ChangeContext<'_>,
    token_ref_id: &str,
    r: &Reissue<'_>,
) -> Result<Relink, TokenError> {
    let pan = r
        .new_pan
        .map(|pan| {
            let aad = format!("token:{token_ref_id}:pan").into_bytes();
            let sealed = ctx
                .vault
                .seal(ctx.crypto, pan.expose().as_bytes(), &aad)
                .map_err(|_| TokenError::Internal)?;
            Ok::<_, TokenError>((
                ctx.vault.lookup_hash(ctx.crypto, "pan", pan.expose()),
                sealed,
            ))
        })
        .transpose()?;
    Ok(Relink {
        pan,
        card_exp_month: r.exp_month,
        card_exp_year: r.exp_year,
    })
}

/// The funding account's reference (docs/protocol.md §15.1; in the spirit of EMVCo's Payment
/// Account Reference): the same for every token of one PAN at one issuer, and without the
/// vault's hash key not linkable to the PAN. `ar_` and 128 bits of a keyed hash, base64url.
pub fn account_ref(
    crypto: &dyn CryptoProvider,
    vault: &VaultKeys,
    issuer_id: &str,
    pan: &Pan,
) -> String {
    let hash = vault.lookup_hash(
        crypto,
        "account_ref",
        &format!("{issuer_id}\u{0}{}", pan.expose()),
    );
    format!("ar_{}", provisio_jose::b64_encode(&hash[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::TokenStatus;
    use provisio_crypto::{AwsLcProvider, SecretBytes};
    use provisio_types::Pan;

    fn vault() -> VaultKeys {
        VaultKeys::new(
            "k1".into(),
            SecretBytes::new(vec![1; 32]),
            SecretBytes::new(vec![2; 32]),
        )
        .unwrap()
    }

    fn facts(status: TokenStatus, notified: bool) -> TokenFacts {
        TokenFacts {
            view: TokenView {
                token_ref_id: "tr_1".into(),
                status,
                suspended_by: None,
                last4: "1234".into(),
                exp_month: 12,
                exp_year: 2030,
                issuer_id: "iss".into(),
                token_requestor_id: "40000000001".into(),
                wallet_user_id: "u".into(),
                device_id: "d".into(),
                account_ref: "ar_x".into(),
                pan_hash: [0; 32],
                created_at: 1,
                event_seq: 3,
                usage: Default::default(),
                history: Vec::new(),
            },
            issuer_notified: notified,
            token_requestor_notified: notified,
        }
    }

    #[test]
    fn a_foreign_token_is_unknown_and_an_owned_one_changes_with_its_events() {
        let crypto = AwsLcProvider::new();
        let vault = vault();
        let ctx = ChangeContext {
            crypto: &crypto,
            vault: &vault,
            now: 100,
        };
        let f = facts(TokenStatus::Active, true);
        let other = TokenCaller::Issuer("other".into());
        let ask = |caller| Ask {
            caller,
            action: Action::Suspend,
            reason: Reason::Lost,
            reissue: None,
        };
        assert_eq!(
            decide(&ctx, &f, &ask(&other)).unwrap_err(),
            TokenError::UnknownToken
        );
        let wallet = TokenCaller::TokenRequestor("40000000001".into());
        let c = decide(&ctx, &f, &ask(&wallet)).unwrap();
        assert_eq!(c.event_seq, 3);
        assert_eq!(c.change.to.status, TokenStatus::Suspended);
        assert_eq!(c.events.len(), 2);
        assert!(c.events.iter().all(|e| e.sequence == 4));
        assert_ne!(c.events[0].ordering_key, c.events[1].ordering_key);
        let opened = vault
            .open(
                &crypto,
                &c.events[0].payload,
                &outbox_aad(&c.events[0].message_id),
            )
            .unwrap();
        let d: EventDelivery = serde_json::from_slice(opened.expose()).unwrap();
        assert_eq!(d.event.event_type, "TOKEN_SUSPENDED");
        assert_eq!(d.event.sequence, 4);
        assert_eq!(d.participant_id, "iss");
        // No URL, no event.
        let quiet = facts(TokenStatus::Active, false);
        assert!(
            decide(&ctx, &quiet, &ask(&wallet))
                .unwrap()
                .events
                .is_empty()
        );
    }

    #[test]
    fn a_reissue_seals_the_new_pan_for_the_token_and_needs_the_issuer() {
        let crypto = AwsLcProvider::new();
        let vault = vault();
        let ctx = ChangeContext {
            crypto: &crypto,
            vault: &vault,
            now: 100,
        };
        let pan = Pan::parse("4111111111111111").unwrap();
        let ask = |caller| Ask {
            caller,
            action: Action::Update,
            reason: Reason::Other,
            reissue: Some(Reissue {
                new_pan: Some(&pan),
                exp_month: 1,
                exp_year: 2031,
            }),
        };
        let f = facts(TokenStatus::Suspended, false);
        let issuer = TokenCaller::Issuer("iss".into());
        let c = decide(&ctx, &f, &ask(&issuer)).unwrap();
        let relink = c.relink.unwrap();
        let (hash, sealed) = relink.pan.unwrap();
        assert_eq!(hash, vault.lookup_hash(&crypto, "pan", "4111111111111111"));
        let opened = vault.open(&crypto, &sealed, b"token:tr_1:pan").unwrap();
        assert_eq!(opened.expose(), b"4111111111111111");
        assert_eq!(
            c.change.to.status,
            TokenStatus::Suspended,
            "the status stays"
        );
        let wallet = TokenCaller::TokenRequestor("40000000001".into());
        assert!(matches!(
            decide(&ctx, &f, &ask(&wallet)),
            Err(TokenError::Lifecycle(LifecycleError::NotPermitted { .. }))
        ));
    }

    #[test]
    fn the_account_ref_is_stable_per_issuer_and_card_and_hides_the_pan() {
        let crypto = AwsLcProvider::new();
        let v = vault();
        let pan = Pan::parse("4111111111111111").unwrap();
        let a = account_ref(&crypto, &v, "iss", &pan);
        assert_eq!(a, account_ref(&crypto, &v, "iss", &pan));
        assert_ne!(a, account_ref(&crypto, &v, "iss2", &pan));
        assert_ne!(
            a,
            account_ref(&crypto, &v, "iss", &Pan::parse("4111111111111129").unwrap())
        );
        assert!(a.starts_with("ar_") && a.len() == 3 + 22 && !a.contains("1111"));
        assert_eq!(
            parse_reason("lost").unwrap_err().code(),
            Code::MalformedRequest
        );
    }
}
