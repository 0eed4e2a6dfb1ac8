//! One wallet-initiated provisioning (docs/protocol.md §17.2) as a function of its inputs: a
//! card typed or scanned in the wallet, with no issuer signature. The server parses the body
//! and opens the card ([`WalletRequest::parse`], [`WalletRequest::open`]), finds the issuer by
//! the card's range and loads the facts, asks the issuer's decisioning when it has one (with
//! the service's level from [`EnteredCard::assess`]), and calls [`EnteredCard::process`]
//! once: the account gate, the risk decision with the issuer's answer, the mint.
//!
//! ```text
//!  body ──parse──► WalletRequest ──open(keys, now)──► EnteredCard ── facts, issuer's answer
//!     ──process──► Minted
//! ```

use provisio_crypto::{CryptoProvider, EcPublicKey};
use provisio_jose::KeyManagement;
use provisio_risk::{RiskDecision, WalletInput, Way, evaluate};
use provisio_types::{DeviceId, Expiry, Pan, PanError, UnixSeconds, WalletUserId};
use zeroize::Zeroizing;

use crate::decisioning::IssuerAnswer;
use crate::process::{WalletSide, mint_accepted};
use crate::records::Origin;
use crate::wallet_wire::{CardEntry, IssuerCard, WalletProvisioningRequest};
use crate::{Accepted, Minted, PushContext, PushError, PushFacts, TspKeys, gate};

/// The longest `jti` accepted.
const MAX_JTI: usize = 128;
/// The longest cardholder name accepted, in characters.
const MAX_NAME: usize = 100;

/// A wallet-initiated request whose JSON and ids parsed.
#[derive(Debug)]
pub struct WalletRequest {
    /// The body as it arrived.
    pub body: WalletProvisioningRequest,
    /// `wallet_user_id`.
    pub wallet_user_id: WalletUserId,
    /// `device_id`.
    pub device_id: DeviceId,
    /// `device.binding_jwk`.
    pub device_key: EcPublicKey,
    /// `wallet_risk`, range-checked.
    pub wallet: WalletInput,
}

/// The card the wallet entered, decrypted and checked; one-time use of its `jti` is the
/// store's, on commit. `Debug` shows no card data.
pub struct EnteredCard {
    request: WalletRequest,
    pan: Pan,
    expiry: Expiry,
    name: String,
    cvc2: Option<Zeroizing<String>>,
    jti: String,
}

impl WalletRequest {
    /// Parses the body and its ids (400 `malformed_request` saying which member).
    pub fn parse(body: &[u8]) -> Result<Self, PushError> {
        let body: WalletProvisioningRequest = serde_json::from_slice(body)
            .map_err(|e| PushError::Malformed(crate::wire::json_error_detail(&e)))?;
        let WalletSide {
            wallet_user_id,
            device_id,
            device_key,
            wallet,
        } = WalletSide::parse(
            &body.wallet_user_id,
            &body.device_id,
            &body.device,
            body.wallet_risk.as_ref(),
        )?;
        Ok(Self {
            body,
            wallet_user_id,
            device_id,
            device_key,
            wallet,
        })
    }

    /// Decrypts the card under one of the service's keys and checks it, in the order of
    /// docs/protocol.md §17.2: decryption, shape, freshness, the account.
    pub fn open(
        self,
        crypto: &dyn CryptoProvider,
        keys: &TspKeys,
        now: UnixSeconds,
        window_s: i64,
    ) -> Result<EnteredCard, PushError> {
        let decrypted = provisio_jose::decrypt(
            crypto,
            &self.body.encrypted_card,
            &[KeyManagement::EcdhEsA256Kw],
            |kid| kid.and_then(|kid| keys.enc_key(kid)),
        )
        .map_err(|_| PushError::PayloadUndecryptable)?;
        // The serde message may quote a value (the PAN among them), so it is not passed on.
        let card: CardEntry = serde_json::from_slice(decrypted.plaintext.expose()).map_err(|_| {
            PushError::Malformed(
                "the encrypted card lacks a documented member, has an unknown one, or one of the wrong type"
                    .into(),
            )
        })?;
        let card = Zeroizing::new(card);
        if card.jti.is_empty()
            || card.jti.len() > MAX_JTI
            || !card.jti.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(PushError::Malformed(
                "the card's jti must be 1 to 128 printable ASCII characters".into(),
            ));
        }
        if !provisio_types::is_plain_text(&card.name, MAX_NAME) {
            return Err(PushError::Malformed(
                "the card's name must be 1 to 100 characters of plain text (no control or bidirectional formatting characters)".into(),
            ));
        }
        if card
            .cvc2
            .as_deref()
            .is_some_and(|c| !(3..=4).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(PushError::Malformed(
                "the card's cvc2 must be 3 or 4 digits".into(),
            ));
        }
        if now.abs_diff(card.iat) > window_s.unsigned_abs() {
            return Err(PushError::StaleTimestamp);
        }
        let pan = Pan::parse(&card.pan).map_err(|e| {
            PushError::InvalidAccount(match e {
                PanError::Luhn => "the PAN fails the Luhn check",
                _ => "the PAN must be 12 to 19 digits",
            })
        })?;
        let expiry = Expiry::new(card.exp_month, card.exp_year).map_err(|_| {
            PushError::InvalidAccount("the expiry date is not a valid month and year")
        })?;
        if expiry.is_past(now) {
            return Err(PushError::InvalidAccount("the card has expired"));
        }
        Ok(EnteredCard {
            request: self,
            pan,
            expiry,
            name: card.name.clone(),
            cvc2: card.cvc2.clone().map(Zeroizing::new),
            jti: card.jti.clone(),
        })
    }
}

impl EnteredCard {
    /// The parsed request.
    pub fn request(&self) -> &WalletRequest {
        &self.request
    }

    /// The card: what its issuer is found by and its risk signals read for.
    pub fn pan(&self) -> &Pan {
        &self.pan
    }

    /// The card as the issuer's decisioning receives it (the CVC2 only there).
    pub(crate) fn for_issuer(&self) -> IssuerCard<'_> {
        IssuerCard {
            pan: self.pan.expose(),
            exp_month: self.expiry.month(),
            exp_year: self.expiry.year(),
            name: &self.name,
            cvc2: self.cvc2.as_deref().map(String::as_str),
        }
    }

    /// The account gate and the service's own decision before the issuer is asked: what the
    /// decisioning request tells the issuer.
    pub fn assess(
        &self,
        ctx: &PushContext<'_>,
        issuer_id: &str,
        facts: &PushFacts,
    ) -> Result<RiskDecision, PushError> {
        self.gate(ctx, facts)?;
        Ok(self.evaluate(ctx, issuer_id, facts, None))
    }

    /// The gate, the risk decision with the issuer's answer (US 10,140,615: part of the
    /// service's additional information) and the mint. `facts.issuer_key` is not read: nothing
    /// here is signed by the issuer. Callable again with the same inputs (a taken token PAN is
    /// minted anew).
    pub fn process(
        &self,
        ctx: &PushContext<'_>,
        issuer_id: &str,
        facts: &PushFacts,
        answer: Option<&IssuerAnswer>,
    ) -> Result<Minted, PushError> {
        self.gate(ctx, facts)?;
        let risk = self.evaluate(ctx, issuer_id, facts, answer);
        let req = &self.request;
        let accepted = Accepted {
            origin: Origin::Wallet,
            issuer_id: issuer_id.to_owned(),
            jti: self.jti.clone(),
            session_id: String::new(),
            wallet_user_id: req.wallet_user_id.as_str().to_owned(),
            device_id: req.device_id.as_str().to_owned(),
            token_requestor_id: ctx.caller_trid.to_owned(),
            pan: self.pan.clone(),
            expiry: self.expiry,
            contact: answer.map(|a| a.contact.clone()).unwrap_or_default(),
        };
        mint_accepted(
            ctx,
            &accepted,
            &req.body.device,
            &req.device_key,
            facts,
            &risk,
            answer.and_then(|a| a.methods.as_deref()),
        )
    }

    fn gate(&self, ctx: &PushContext<'_>, facts: &PushFacts) -> Result<(), PushError> {
        match &facts.account {
            Some(account) => gate(
                account.as_ref(),
                &self.request.device_id,
                ctx.now,
                Some(&self.request.device_key),
            ),
            None => Ok(()),
        }
    }

    fn evaluate(
        &self,
        ctx: &PushContext<'_>,
        issuer_id: &str,
        facts: &PushFacts,
        answer: Option<&IssuerAnswer>,
    ) -> RiskDecision {
        evaluate(
            &ctx.config.risk_policy,
            issuer_id,
            &self.request.wallet,
            &facts.signals,
            &Way::Wallet {
                issuer: answer.map(|a| a.verdict.clone()),
            },
        )
    }
}

impl std::fmt::Debug for EnteredCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnteredCard")
            .field("request", &self.request)
            .field("pan", &self.pan)
            .finish_non_exhaustive()
    }
}
