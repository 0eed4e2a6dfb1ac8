//! One push provisioning as a function of its inputs (docs/architecture.md §4): the server
//! parses and opens the request ([`PushRequest::parse`], [`PushRequest::open`]), loads in one
//! go the facts the opening names ([`Opening::issuer_to_load`], [`Opening::claimed_pan`]), and
//! calls [`Opening::process`] once: the hosted-account gate, the signature, the acceptance
//! checks, the risk decision and the mint, in the order of docs/protocol.md §3.4. What comes
//! back is committed as it is.
//!
//! ```text
//!  body ──parse──► PushRequest ──open(keys)──► Opening ── facts ──process──► Minted
//!                                   └─ names what to load: the issuer, the card's hash
//! ```

use provisio_accounts::AccountState;
use provisio_crypto::{CryptoProvider, EcPublicKey};
use provisio_risk::{RiskDecision, Signals, WalletInput, Way, evaluate};
use provisio_types::{DeviceId, Pan, SessionId, UnixSeconds, WalletUserId};

use crate::push::Accepted;
use crate::push::{AcceptContext, Opened, open};
use crate::wire::{DeviceInfo, PushProvisioningRequest, WalletRiskInfo};
use crate::{
    MethodType, MintInput, Minted, PushError, SeTarget, SpTsmTarget, TspConfig, TspKeys, mint,
};

/// A push request whose JSON and ids parsed: what the wallet sent, typed.
#[derive(Debug)]
pub struct PushRequest {
    /// The body as it arrived.
    pub body: PushProvisioningRequest,
    /// `session_id`.
    pub session_id: SessionId,
    /// `wallet_user_id`.
    pub wallet_user_id: WalletUserId,
    /// `device_id`.
    pub device_id: DeviceId,
    /// `device.binding_jwk`.
    pub device_key: EcPublicKey,
    /// `wallet_risk`, range-checked.
    pub wallet: WalletInput,
}

/// A request opened under the service's keys (or not: the failure is kept, and told in the
/// order of docs/protocol.md §3.4, after the account gate).
pub struct Opening {
    request: PushRequest,
    opened: Result<Opened, PushError>,
}

/// A hosted wallet user's live account, as the gate reads it (docs/protocol.md §8.10).
#[derive(Debug, Clone)]
pub struct HostedAccount {
    /// Its state.
    pub state: AccountState,
    /// The device it is on.
    pub device_id: String,
    /// When it expires while pending.
    pub expires_at: UnixSeconds,
    /// The binding key registered with its device.
    pub binding_key: EcPublicKey,
}

/// A registered issuer as a push reads it.
#[derive(Debug, Clone)]
pub struct IssuerKey {
    /// Its signing key's `kid`.
    pub kid: String,
    /// Its signing key.
    pub key: EcPublicKey,
    /// Its pushes still step up in the step-up band (it opted out of the trusted push).
    pub push_step_up: bool,
}

/// What the store knew when the request arrived.
#[derive(Debug, Clone)]
pub struct PushFacts {
    /// The issuer the request data names, if registered.
    pub issuer_key: Option<IssuerKey>,
    /// For a wallet whose accounts are hosted here: the user's live account, if any
    /// (`None` for wallets with their own accounts).
    pub account: Option<Option<HostedAccount>>,
    /// The service's risk signals.
    pub signals: Signals,
    /// The issuer's TSM, when the device has a secure element and the issuer registered one.
    pub sp_tsm: Option<SpTsmTarget>,
    /// What the store knows of the card the request data names.
    pub card: CardFacts,
}

/// What the store knows of a card, read by its keyed hash before the request is verified
/// (docs/protocol.md §15.1).
#[derive(Debug, Clone, Default)]
pub struct CardFacts {
    /// The account reference its live tokens at this issuer carry (kept across a reissue).
    pub account_ref: Option<String>,
    /// The device's live token of this card for this wallet, read only for a push the store
    /// refused for it (it has one then, unless it was deleted meanwhile). The store
    /// enforces one live token per device, card and wallet when the push commits (after the
    /// one-time checks of the session id and `jti`, so a replay is told as a replay); a push
    /// refused for it is answered `already_in_wallet` with this token (docs/protocol.md §15.1).
    pub on_device: Option<String>,
    /// Whether the issuer has a notification URL.
    pub issuer_notified: bool,
    /// Whether the token requestor has a notification URL.
    pub token_requestor_notified: bool,
}

/// Everything but the request and the facts.
#[derive(Clone, Copy)]
pub struct PushContext<'a> {
    /// Cryptography.
    pub crypto: &'a dyn CryptoProvider,
    /// The service's keys.
    pub keys: &'a TspKeys,
    /// Its configuration (with the risk policy).
    pub config: &'a TspConfig,
    /// The authenticated caller's token requestor id.
    pub caller_trid: &'a str,
    /// When the request arrived.
    pub now: UnixSeconds,
}

impl PushRequest {
    /// Parses the body and its ids (400 `malformed_request` saying which member).
    pub fn parse(body: &[u8]) -> Result<Self, PushError> {
        let body: PushProvisioningRequest = serde_json::from_slice(body)
            .map_err(|e| PushError::Malformed(crate::wire::json_error_detail(&e)))?;
        let session_id =
            SessionId::parse(&body.session_id).map_err(|e| PushError::Malformed(e.to_string()))?;
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
            session_id,
            wallet_user_id,
            device_id,
            device_key,
            wallet,
        })
    }

    /// Decrypts the request data under the service's keys.
    pub fn open(self, crypto: &dyn CryptoProvider, keys: &TspKeys) -> Opening {
        let opened = open(crypto, keys, &self.body.encrypted_payload);
        Opening {
            request: self,
            opened,
        }
    }
}

/// The wallet's side of a provisioning request, either way in: its user, the device and its
/// binding key, its risk.
pub(crate) struct WalletSide {
    pub(crate) wallet_user_id: WalletUserId,
    pub(crate) device_id: DeviceId,
    pub(crate) device_key: EcPublicKey,
    pub(crate) wallet: WalletInput,
}

impl WalletSide {
    /// Parses the members (400 `malformed_request` saying which).
    pub(crate) fn parse(
        wallet_user_id: &str,
        device_id: &str,
        device: &DeviceInfo,
        wallet_risk: Option<&WalletRiskInfo>,
    ) -> Result<Self, PushError> {
        let malformed = |e: provisio_types::IdError| PushError::Malformed(e.to_string());
        Ok(Self {
            wallet_user_id: WalletUserId::parse(wallet_user_id).map_err(malformed)?,
            device_id: DeviceId::parse(device_id).map_err(malformed)?,
            device_key: device
                .binding_jwk
                .public_key()
                .map_err(|e| PushError::Malformed(format!("device.binding_jwk: {e}")))?,
            wallet: WalletRiskInfo::to_input(wallet_risk)
                .map_err(|e| PushError::Malformed(e.into()))?,
        })
    }
}

impl Opening {
    /// The parsed request.
    pub fn request(&self) -> &PushRequest {
        &self.request
    }

    /// The issuer whose key the signature needs (the request data names it, not yet
    /// verified), when the request data opened.
    pub fn issuer_to_load(&self) -> Option<&str> {
        self.opened.as_ref().ok().map(Opened::claimed_issuer)
    }

    /// The card the request data names, not yet verified: what the risk signals are read
    /// for. A request whose signature then fails is refused, and what was read for it is
    /// dropped.
    pub fn claimed_pan(&self) -> Option<&Pan> {
        self.opened.as_ref().ok().and_then(Opened::claimed_pan)
    }

    /// The gate, the signature, the acceptance checks, the risk decision and the mint, in
    /// the order of docs/protocol.md §3.4. Callable again with the same facts (a taken token
    /// PAN is minted anew).
    pub fn process(&self, ctx: &PushContext<'_>, facts: &PushFacts) -> Result<Minted, PushError> {
        let req = &self.request;
        if let Some(account) = &facts.account {
            gate(
                account.as_ref(),
                &req.device_id,
                ctx.now,
                Some(&req.device_key),
            )?;
        }
        let opened = self.opened.as_ref().map_err(Clone::clone)?;
        let issuer = facts.issuer_key.as_ref().ok_or(PushError::UnknownIssuer)?;
        let accepted = opened
            .verify(ctx.crypto, &issuer.kid, &issuer.key)?
            .accept(&AcceptContext {
                tsp_id: &ctx.config.tsp_id,
                caller_trid: ctx.caller_trid,
                session_id: req.session_id.as_str(),
                wallet_user_id: req.wallet_user_id.as_str(),
                device_id: req.device_id.as_str(),
                now: ctx.now,
                window_s: ctx.config.freshness_window_s,
            })?;
        // Only the issuer-app path reaches here: the request data is signed by the issuer's
        // registered key after it authenticated the cardholder (US 10,243,958 claim 1).
        let risk = evaluate(
            &ctx.config.risk_policy,
            &accepted.issuer_id,
            &req.wallet,
            &facts.signals,
            &Way::IssuerApp {
                step_up: issuer.push_step_up,
            },
        );
        mint_accepted(
            ctx,
            &accepted,
            &req.body.device,
            &req.device_key,
            facts,
            &risk,
            None,
        )
    }
}

/// Mints what `risk` allows for an accepted request (either way in) on `device`: through the
/// issuer's TSM for a secure element (an issuer without one gets the HCE script on every
/// device), offering the step-up `methods` the issuer allows (`None`: every one the contact
/// allows).
pub(crate) fn mint_accepted(
    ctx: &PushContext<'_>,
    accepted: &Accepted,
    device: &DeviceInfo,
    device_key: &EcPublicKey,
    facts: &PushFacts,
    risk: &RiskDecision,
    methods: Option<&[MethodType]>,
) -> Result<Minted, PushError> {
    let secure_element = device
        .secure_element_id
        .as_deref()
        .zip(facts.sp_tsm.as_ref())
        .map(|(se_id, sp_tsm)| SeTarget { se_id, sp_tsm });
    let pan_hash = ctx
        .keys
        .vault()
        .lookup_hash(ctx.crypto, "pan", accepted.pan.expose());
    mint(
        ctx.crypto,
        ctx.keys,
        ctx.config,
        &MintInput {
            accepted,
            device_key,
            secure_element,
            risk,
            pan_hash,
            card: &facts.card,
            methods,
            now: ctx.now,
        },
    )
}

/// The join of activation and provisioning (docs/protocol.md §8.10): a hosted wallet's user
/// needs an `ACTIVE` account on this device, and a push must name the binding key registered
/// with it (US 10,243,958: the device identifier binds the access data to the device).
pub fn gate(
    account: Option<&HostedAccount>,
    device_id: &DeviceId,
    now: UnixSeconds,
    binding_key: Option<&EcPublicKey>,
) -> Result<(), PushError> {
    let refuse = |why: String| PushError::AccountNotActive(why);
    let Some(account) = account else {
        return Err(refuse("does not exist".into()));
    };
    match account.state {
        AccountState::Active if account.device_id == device_id.as_str() => match binding_key {
            Some(key) if *key != account.binding_key => Err(PushError::DeviceKeyMismatch),
            _ => Ok(()),
        },
        AccountState::Active => Err(refuse("is on another device".into())),
        AccountState::PendingActivation if now >= account.expires_at => {
            Err(refuse("has expired".into()))
        }
        other => Err(refuse(format!("is {other}"))),
    }
}

impl std::fmt::Debug for Opening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opening")
            .field("request", &self.request)
            .field("opened", &self.opened.is_ok())
            .finish()
    }
}
