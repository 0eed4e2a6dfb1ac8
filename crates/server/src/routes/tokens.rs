//! The token's life over HTTP (docs/protocol.md §15): read, search, suspend, resume, delete,
//! and the issuer's card-level changes. Each change loads the token, lets the core decide,
//! and commits once under the token's sequence; a commit that lost a race is decided again
//! from fresh facts.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use provisio_store::{Conflict, Principal, Role, StoreError};
use provisio_tsp::token_records::{TokenChange, TokenSearch};
use provisio_tsp::token_wire::{
    CardChangeRequest, ChangeRequest, ReissueRequest, SearchRequest, TokenAnswer, TokenList,
};
use provisio_tsp::{
    Action, Ask, ChangeContext, LifecycleError, Reissue, TokenCaller, TokenError, decide,
    parse_reason,
};
use provisio_types::{Code, DeviceId, Pan, WalletUserId};

use super::parse_json;
use crate::auth::{authenticate, require};
use crate::error::Problem;
use crate::{ApiError, AppState};

/// How often a change that lost a race with a concurrent one is decided again.
const ATTEMPTS: usize = 4;

/// Reads one token.
#[utoipa::path(get, path = "/v1/tokens/{token_ref_id}", tag = "tokens",
    params(("token_ref_id" = String, Path, description = "The token's reference id")),
    responses(
        (status = 200, body = TokenAnswer, description = "The token with its history"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: a network key"),
        (status = 404, body = Problem, description = "unknown_token: no such token, or not the caller's"),
    ),
    security(("api_key" = ["admin", "issuer", "token_requestor"])))]
pub(crate) async fn get_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token_ref_id): Path<String>,
) -> Result<Json<TokenAnswer>, ApiError> {
    let caller = caller(&authenticate(&state, &headers).await?)?;
    let facts = state.store.token_facts(&token_ref_id).await?;
    let view = caller.check_sees(facts.map(|f| f.view))?;
    Ok(Json(TokenAnswer::from(&view)))
}

/// Finds live tokens: an issuer's of a card (by PAN, in the body), a token requestor's of a
/// wallet user and/or a device.
#[utoipa::path(post, path = "/v1/tokens/search", tag = "tokens",
    request_body = SearchRequest,
    responses(
        (status = 200, body = TokenList, description = "The caller's live tokens that match, oldest first"),
        (status = 400, body = Problem, description = "malformed_request: the body does not fit the caller's role"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: a network key"),
    ),
    security(("api_key" = ["admin", "issuer", "token_requestor"])))]
pub(crate) async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<TokenList>, ApiError> {
    let principal = authenticate(&state, &headers).await?;
    let req: SearchRequest = parse_json(&body)?;
    let q = search_query(&state, &principal, &req)?;
    let views = state.store.search_tokens(&q).await?;
    Ok(Json(TokenList {
        tokens: views.iter().map(TokenAnswer::from).collect(),
    }))
}

fn search_query(
    state: &AppState,
    principal: &Principal,
    req: &SearchRequest,
) -> Result<TokenSearch, ApiError> {
    let wallet_asked = req.wallet_user_id.is_some() || req.device_id.is_some();
    match principal.role {
        Role::Issuer | Role::Admin => {
            if wallet_asked {
                return Err(ApiError::malformed(
                    "an issuer or the operator searches by pan; wallet_user_id and device_id are a token requestor's",
                ));
            }
            let pan = req
                .pan
                .as_deref()
                .ok_or_else(|| ApiError::malformed("pan is required"))?;
            Ok(TokenSearch::Card {
                issuer_id: (principal.role == Role::Issuer).then(|| principal.id.clone()),
                pan_hash: pan_hash(state, &parse_pan("pan", pan)?),
            })
        }
        Role::TokenRequestor => {
            if req.pan.is_some() {
                return Err(ApiError::malformed(
                    "a token requestor searches by wallet_user_id and device_id; pan is an issuer's",
                ));
            }
            if !wallet_asked {
                return Err(ApiError::malformed(
                    "wallet_user_id or device_id (or both) is required",
                ));
            }
            let malformed = |e: provisio_types::IdError| ApiError::malformed(e.to_string());
            Ok(TokenSearch::Wallet {
                token_requestor_id: principal.id.clone(),
                wallet_user_id: req
                    .wallet_user_id
                    .as_deref()
                    .map(|u| WalletUserId::parse(u).map(|u| u.as_str().to_owned()))
                    .transpose()
                    .map_err(malformed)?,
                device_id: req
                    .device_id
                    .as_deref()
                    .map(|d| DeviceId::parse(d).map(|d| d.as_str().to_owned()))
                    .transpose()
                    .map_err(malformed)?,
            })
        }
        Role::Network => Err(ApiError::forbidden("a network key does not search tokens")),
    }
}

macro_rules! token_change_route {
    ($name:ident, $path:literal, $action:expr, $what:literal) => {
        #[doc = $what]
        #[utoipa::path(post, path = $path, tag = "tokens",
            params(("token_ref_id" = String, Path, description = "The token's reference id")),
            request_body = ChangeRequest,
            responses(
                (status = 200, body = TokenAnswer, description = "The token after the change"),
                (status = 400, body = Problem, description = "malformed_request: no or an unknown reason code"),
                (status = 401, body = Problem, description = "unauthorized"),
                (status = 403, body = Problem, description = "forbidden: the caller may not lift this suspension; a network key"),
                (status = 404, body = Problem, description = "unknown_token: no such token, or not the caller's"),
                (status = 409, body = Problem, description = "invalid_transition: the state machine does not allow it; token_conflict: concurrent changes kept winning"),
            ),
            security(("api_key" = ["admin", "issuer", "token_requestor"])))]
        pub(crate) async fn $name(
            State(state): State<AppState>,
            headers: HeaderMap,
            Path(token_ref_id): Path<String>,
            body: Bytes,
        ) -> Result<Json<TokenAnswer>, ApiError> {
            change_one(&state, &headers, &token_ref_id, &body, $action).await
        }
    };
}

token_change_route!(
    suspend,
    "/v1/tokens/{token_ref_id}/suspend",
    Action::Suspend,
    "Suspends an `ACTIVE` token: it pays nothing until resumed."
);
token_change_route!(
    resume,
    "/v1/tokens/{token_ref_id}/resume",
    Action::Resume,
    "Resumes a `SUSPENDED` token. A suspension by the issuer or the operator is lifted only by them."
);
token_change_route!(
    delete,
    "/v1/tokens/{token_ref_id}/delete",
    Action::Delete,
    "Deletes a token for good; its token PAN is never issued again."
);

async fn change_one(
    state: &AppState,
    headers: &HeaderMap,
    token_ref_id: &str,
    body: &[u8],
    action: Action,
) -> Result<Json<TokenAnswer>, ApiError> {
    let caller = caller(&authenticate(state, headers).await?)?;
    let req: ChangeRequest = parse_json(body)?;
    let reason = parse_reason(&req.reason)?;
    let ask = Ask {
        caller: &caller,
        action,
        reason,
        reissue: None,
    };
    for _ in 0..ATTEMPTS {
        let facts = state.store.token_facts(token_ref_id).await?;
        let facts = facts
            .filter(|f| caller.sees(&f.view))
            .ok_or(TokenError::UnknownToken)?;
        let change = decide(&context(state), &facts, &ask)?;
        match commit(state, std::slice::from_ref(&change)).await {
            Ok(()) => return Ok(Json(TokenAnswer::from(&facts.view.after(&change)))),
            Err(StoreError::Conflict(Conflict::TokenVersion)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(lost_races())
}

macro_rules! card_change_route {
    ($name:ident, $path:literal, $action:expr, $what:literal) => {
        #[doc = $what]
        #[utoipa::path(post, path = $path, tag = "tokens",
            request_body = CardChangeRequest,
            responses(
                (status = 200, body = TokenList, description = "Every live token of the card, after the change (tokens the change does not apply to are left as they are)"),
                (status = 400, body = Problem, description = "malformed_request: the PAN or the reason code"),
                (status = 401, body = Problem, description = "unauthorized"),
                (status = 403, body = Problem, description = "forbidden: not an issuer key"),
                (status = 409, body = Problem, description = "token_conflict: concurrent changes kept winning"),
            ),
            security(("api_key" = ["issuer"])))]
        pub(crate) async fn $name(
            State(state): State<AppState>,
            headers: HeaderMap,
            body: Bytes,
        ) -> Result<Json<TokenList>, ApiError> {
            let issuer = require(&state, &headers, Role::Issuer).await?;
            let req: CardChangeRequest = parse_json(&body)?;
            let reason = parse_reason(&req.reason)?;
            let pan = parse_pan("pan", &req.pan)?;
            change_card(&state, &issuer, &pan, $action, reason, None).await
        }
    };
}

card_change_route!(
    suspend_card,
    "/v1/cards/suspend",
    Action::Suspend,
    "Suspends every `ACTIVE` token of a card (a lost or stolen card)."
);
card_change_route!(
    resume_card,
    "/v1/cards/resume",
    Action::Resume,
    "Resumes every `SUSPENDED` token of a card."
);
card_change_route!(
    delete_card,
    "/v1/cards/delete",
    Action::Delete,
    "Deletes every live token of a card (an account closed)."
);

/// Relinks every live token of a reissued card to its new expiry and, if given, its new PAN:
/// the tokens keep working, and each party hears `TOKEN_UPDATED`.
#[utoipa::path(post, path = "/v1/cards/reissue", tag = "tokens",
    request_body = ReissueRequest,
    responses(
        (status = 200, body = TokenList, description = "Every live token of the card, relinked"),
        (status = 400, body = Problem, description = "malformed_request: a PAN or the expiry"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an issuer key"),
        (status = 409, body = Problem, description = "token_conflict: concurrent changes kept winning"),
    ),
    security(("api_key" = ["issuer"])))]
pub(crate) async fn reissue_card(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<TokenList>, ApiError> {
    let issuer = require(&state, &headers, Role::Issuer).await?;
    let req: ReissueRequest = parse_json(&body)?;
    let pan = parse_pan("pan", &req.pan)?;
    let new_pan = req
        .new_pan
        .as_deref()
        .map(|p| parse_pan("new_pan", p))
        .transpose()?;
    if !(1..=12).contains(&req.exp_month) || !(2000..=2099).contains(&req.exp_year) {
        return Err(ApiError::malformed(
            "exp_month must be 1 to 12 and exp_year four digits",
        ));
    }
    let reissue = Reissue {
        new_pan: new_pan.as_ref(),
        exp_month: req.exp_month,
        exp_year: req.exp_year,
    };
    change_card(
        &state,
        &issuer,
        &pan,
        Action::Update,
        provisio_tsp::Reason::Other,
        Some(reissue),
    )
    .await
}

/// One change for every live token of the issuer's card, in one transaction. A token the
/// state machine does not allow it for (suspending a suspended one) is left as it is.
async fn change_card(
    state: &AppState,
    issuer: &Principal,
    pan: &Pan,
    action: Action,
    reason: provisio_tsp::Reason,
    reissue: Option<Reissue<'_>>,
) -> Result<Json<TokenList>, ApiError> {
    let caller = TokenCaller::Issuer(issuer.id.clone());
    let hash = pan_hash(state, pan);
    let ask = Ask {
        caller: &caller,
        action,
        reason,
        reissue,
    };
    for _ in 0..ATTEMPTS {
        let all = state.store.card_token_facts(&issuer.id, &hash).await?;
        let mut changes = Vec::new();
        let mut after = Vec::with_capacity(all.len());
        for facts in &all {
            let view = &facts.view;
            match decide(&context(state), facts, &ask) {
                Ok(change) => {
                    after.push(view.clone().after(&change));
                    changes.push(change);
                }
                Err(TokenError::Lifecycle(LifecycleError::InvalidTransition { .. })) => {
                    after.push(view.clone());
                }
                Err(e) => return Err(e.into()),
            }
        }
        match commit(state, &changes).await {
            Ok(()) => {
                return Ok(Json(TokenList {
                    tokens: after.iter().map(TokenAnswer::from).collect(),
                }));
            }
            Err(StoreError::Conflict(Conflict::TokenVersion)) => continue,
            // A reissue onto a card that one of the devices already holds for this wallet.
            Err(StoreError::Conflict(Conflict::LiveToken)) => {
                return Err(ApiError::new(
                    Code::AlreadyInWallet,
                    "a device holding a token of this card already holds a live token of the new card for the same wallet; delete one of them first",
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(lost_races())
}

/// Commits changes and wakes the deliverer for their events.
async fn commit(state: &AppState, changes: &[TokenChange]) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    state.store.commit_token_changes(changes, None).await?;
    for c in changes {
        tracing::info!(
            token_ref_id = %c.token_ref_id,
            status = %c.change.to.status,
            actor = %c.change.actor,
            reason = %c.change.reason,
            "token changed"
        );
    }
    if changes.iter().any(|c| !c.events.is_empty()) {
        state.outbox_wake.notify_one();
    }
    Ok(())
}

fn context(state: &AppState) -> ChangeContext<'_> {
    ChangeContext {
        crypto: state.crypto.as_ref(),
        vault: state.keys.vault(),
        now: state.clock.now(),
    }
}

/// The caller as the token core sees it; a network reads no token here (it learns what an
/// authorisation answers, docs/protocol.md §16).
pub(crate) fn caller(p: &Principal) -> Result<TokenCaller, ApiError> {
    match p.role {
        Role::Issuer => Ok(TokenCaller::Issuer(p.id.clone())),
        Role::TokenRequestor => Ok(TokenCaller::TokenRequestor(p.id.clone())),
        Role::Admin => Ok(TokenCaller::Admin),
        Role::Network => Err(ApiError::forbidden(
            "a network key does not read or change tokens",
        )),
    }
}

/// A PAN member, checked; the value is never echoed.
fn parse_pan(member: &str, pan: &str) -> Result<Pan, ApiError> {
    Pan::parse(pan).map_err(|_| {
        ApiError::malformed(format!(
            "{member}: not a card number (12 to 19 digits, Luhn-valid)"
        ))
    })
}

fn pan_hash(state: &AppState, pan: &Pan) -> [u8; 32] {
    state
        .keys
        .vault()
        .lookup_hash(state.crypto.as_ref(), "pan", pan.expose())
}

fn lost_races() -> ApiError {
    ApiError::new(
        Code::TokenConflict,
        "concurrent changes of the token kept winning; read it again and retry",
    )
}
