//! `POST /v1/push-provisioning` (docs/protocol.md §3.3): authenticate, open the request, load
//! what it names in one store call, run the core once, commit once, answer
//! (docs/architecture.md §4).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use provisio_jose::Jwk;
use provisio_store::{
    AccountGate, CardQuery, Conflict, Principal, PushFactsQuery, Role, SignalQuery, StoreError,
};
use provisio_tsp::wire::{PushProvisioningRequest, PushProvisioningResponse};
use provisio_tsp::{
    HostedAccount, IssuerKey, Minted, Opening, PushContext, PushFacts, PushRequest,
};
use provisio_types::Pan;

use super::admin::replay_after_race;
use crate::auth::require;
use crate::error::Problem;
use crate::idempotency::IdempotencyKey;
use crate::sp_tsm_link::target_of;
use crate::{ApiError, AppState};

/// How often a token PAN collision is retried with a fresh number before giving up.
const MINT_ATTEMPTS: usize = 4;

const PATH: &str = "/v1/push-provisioning";

/// Accepts the issuer app's request data, forwarded by the wallet, and answers with a token
/// bound to the device.
#[utoipa::path(post, path = "/v1/push-provisioning", tag = "push provisioning",
    request_body = PushProvisioningRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same body")),
    responses(
        (status = 200, body = PushProvisioningResponse, description = "Processed: approved, step-up required, or declined"),
        (status = 400, body = Problem, description = "malformed_request, payload_undecryptable, signature_invalid, unknown_issuer, audience_mismatch, binding_mismatch, stale_timestamp, invalid_account"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a token requestor key; account_not_active: a hosted wallet's user has no ACTIVE account on this device; device_key_mismatch: another binding key than the account's device has"),
        (status = 409, body = Problem, description = "replayed_request: the session id or jti was used before"),
        (status = 422, body = Problem, description = "idempotency_conflict"),
    ),
    security(("api_key" = ["token_requestor"])))]
pub(crate) async fn push_provisioning(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = require(&state, &headers, Role::TokenRequestor).await?;
    let idem = IdempotencyKey::from_request(&state, &headers, &caller.id, PATH, &body)?;
    let crypto = state.crypto.as_ref();
    let opening = PushRequest::parse(&body)?.open(crypto, &state.keys);
    let cached_key = opening
        .issuer_to_load()
        .and_then(|iss| state.issuer_keys.get(&iss.to_owned()));
    let query = facts_query(
        &state,
        &caller,
        idem.as_ref(),
        &opening,
        cached_key.is_none(),
    );
    let mut loaded = state.store.load_push_facts(&query).await?;
    if let Some(key) = &idem
        && let Some(replayed) = key.replay_of(&state, loaded.idempotency.as_ref())?
    {
        return Ok(replayed);
    }
    let issuer = match cached_key {
        Some(found) => Some(found),
        None => issuer_key(&state, loaded.issuer.take())?,
    };
    let facts = push_facts(&state, &caller, loaded, issuer)?;
    let ctx = PushContext {
        crypto,
        keys: &state.keys,
        config: &state.config,
        caller_trid: &caller.id,
        now: state.clock.now(),
    };
    commit_minted(&state, idem.as_ref(), query, || {
        opening.process(&ctx, &facts)
    })
    .await
}

/// Mints (`process`, again with a fresh token PAN when the one drawn is taken), commits once
/// with the idempotent answer, and answers 200; `query` names the card, for the answer to a
/// push that lost the race for the device's live token of it.
pub(crate) async fn commit_minted(
    state: &AppState,
    idem: Option<&IdempotencyKey>,
    query: PushFactsQuery,
    process: impl Fn() -> Result<Minted, provisio_tsp::PushError>,
) -> Result<Response, ApiError> {
    for _ in 0..MINT_ATTEMPTS {
        let minted = process()?;
        let body = serde_json::to_string(&minted.response).map_err(|e| ApiError::internal(&e))?;
        let now = minted.record.created_at;
        let idem_record = idem
            .map(|k| k.record(state, StatusCode::OK, &body, now))
            .transpose()?;
        match state
            .store
            .commit_provisioning(&minted.record, idem_record.as_ref())
            .await
        {
            Ok(()) => {
                tracing::info!(
                    provisioning_id = %minted.response.provisioning_id,
                    origin = minted.record.origin.as_str(),
                    decision = ?minted.response.decision,
                    token_ref_id = minted.response.token.as_ref().map(|t| t.token_ref_id.as_str()).unwrap_or(""),
                    "provisioning committed"
                );
                let events = minted
                    .record
                    .token
                    .as_ref()
                    .is_some_and(|t| !t.events.is_empty());
                if minted.record.handoff.is_some() || events {
                    state.outbox_wake.notify_one();
                }
                return Ok((
                    StatusCode::OK,
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response());
            }
            Err(StoreError::Conflict(Conflict::TokenPan)) => continue,
            // A concurrent request put this card on this device first (docs/protocol.md §15.1).
            Err(StoreError::Conflict(Conflict::LiveToken)) => {
                return Err(already_in_wallet(state, query).await);
            }
            Err(StoreError::Conflict(Conflict::IdempotencyKey)) => {
                return replay_after_race(state, idem).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal(
        &"token BIN range exhausted: no free token PAN after retries",
    ))
}

/// The loaded records as the core reads them: the account's and the TSM's keys parsed.
pub(crate) fn push_facts(
    state: &AppState,
    caller: &Principal,
    loaded: provisio_store::PushFacts,
    issuer_key: Option<IssuerKey>,
) -> Result<PushFacts, ApiError> {
    Ok(PushFacts {
        issuer_key,
        account: caller
            .hosted_accounts
            .then(|| loaded.account.map(hosted_account).transpose())
            .transpose()?,
        signals: loaded.signals.unwrap_or_default(),
        sp_tsm: loaded.sp_tsm.map(|r| target_of(state, r)).transpose()?,
        card: loaded.card.unwrap_or_default(),
    })
}

/// What the opened request names: the idempotent answer, the issuer (unless its key is
/// cached), the hosted account, the card's risk signals, the issuer's TSM.
fn facts_query(
    state: &AppState,
    caller: &Principal,
    idem: Option<&IdempotencyKey>,
    opening: &Opening,
    load_issuer: bool,
) -> PushFactsQuery {
    let req = opening.request();
    let issuer = opening.issuer_to_load().map(str::to_owned);
    let mut query = card_facts_query(
        state,
        caller,
        &CardRequest {
            pan: opening.claimed_pan(),
            issuer_id: issuer.as_deref(),
            wallet_user_id: req.wallet_user_id.as_str(),
            device_id: req.device_id.as_str(),
            secure_element: req.body.device.secure_element_id.is_some(),
        },
    );
    query.idempotency = idem.map(IdempotencyKey::lookup);
    query.issuer_id = issuer.filter(|_| load_issuer);
    query
}

/// The card, the wallet user and the device a provisioning names.
pub(crate) struct CardRequest<'a> {
    pub(crate) pan: Option<&'a Pan>,
    pub(crate) issuer_id: Option<&'a str>,
    pub(crate) wallet_user_id: &'a str,
    pub(crate) device_id: &'a str,
    pub(crate) secure_element: bool,
}

/// What a provisioning of `card` reads besides its issuer: the hosted account, the card's risk
/// signals, the issuer's TSM and what the store knows of the card.
pub(crate) fn card_facts_query(
    state: &AppState,
    caller: &Principal,
    card: &CardRequest<'_>,
) -> PushFactsQuery {
    let crypto = state.crypto.as_ref();
    let pan_hash = card
        .pan
        .map(|pan| state.keys.vault().lookup_hash(crypto, "pan", pan.expose()));
    PushFactsQuery {
        idempotency: None,
        issuer_id: None,
        hosted_account: caller
            .hosted_accounts
            .then(|| (caller.id.clone(), card.wallet_user_id.to_owned())),
        signals: card.pan.zip(pan_hash).map(|(pan, pan_hash)| SignalQuery {
            pan_hash,
            bin8: pan.expose().chars().take(8).collect(),
            device_id: card.device_id.to_owned(),
            token_requestor_id: caller.id.clone(),
            wallet_user_id: card.wallet_user_id.to_owned(),
            now: state.clock.now(),
        }),
        sp_tsm_of: card
            .issuer_id
            .filter(|_| card.secure_element)
            .map(str::to_owned),
        card: pan_hash
            .zip(card.issuer_id)
            .map(|(pan_hash, issuer_id)| CardQuery {
                pan_hash,
                issuer_id: issuer_id.to_owned(),
                token_requestor_id: caller.id.clone(),
                device_id: card.device_id.to_owned(),
                on_device: false,
            }),
    }
}

/// The answer to a push that lost the race for the device's one live token of its card:
/// `already_in_wallet` with the winner's reference.
pub(crate) async fn already_in_wallet(state: &AppState, query: PushFactsQuery) -> ApiError {
    let card_only = PushFactsQuery {
        idempotency: None,
        issuer_id: None,
        hosted_account: None,
        signals: None,
        sp_tsm_of: None,
        card: query.card.map(|card| CardQuery {
            on_device: true,
            ..card
        }),
    };
    match state.store.load_push_facts(&card_only).await {
        Ok(loaded) => match loaded.card.and_then(|c| c.on_device) {
            Some(token_ref_id) => provisio_tsp::PushError::AlreadyInWallet { token_ref_id }.into(),
            None => ApiError::new(
                provisio_types::Code::TokenConflict,
                "a concurrent change of this device's tokens won; retry",
            ),
        },
        Err(e) => e.into(),
    }
}

/// The registered issuer's signing `kid` and key and its push setting, parsed and validated
/// once per [`crate::read_cache::TTL`].
pub(crate) fn issuer_key(
    state: &AppState,
    issuer: Option<provisio_store::IssuerRecord>,
) -> Result<Option<IssuerKey>, ApiError> {
    let Some(issuer) = issuer else {
        return Ok(None);
    };
    let jwk: Jwk = serde_json::from_str(&issuer.signing_jwk).map_err(|e| ApiError::internal(&e))?;
    let found = IssuerKey {
        kid: issuer.signing_kid,
        key: jwk.public_key().map_err(|e| ApiError::internal(&e))?,
        push_step_up: issuer.push_step_up,
    };
    state.issuer_keys.put(issuer.issuer_id, found.clone());
    Ok(Some(found))
}

/// The account as the core's gate reads it; its binding key was parsed when it was created.
pub(crate) fn hosted_account(a: AccountGate) -> Result<HostedAccount, ApiError> {
    let jwk: Jwk = serde_json::from_str(&a.binding_jwk).map_err(|e| ApiError::internal(&e))?;
    Ok(HostedAccount {
        state: a.state,
        device_id: a.device_id,
        expires_at: a.expires_at,
        binding_key: jwk.public_key().map_err(|e| ApiError::internal(&e))?,
    })
}
