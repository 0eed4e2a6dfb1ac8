//! Hosted wallet accounts, as the wallet calls them (docs/protocol.md §8.4 to §8.8): creation
//! in `PENDING_ACTIVATION`, and knowledge-based verification question by question (US
//! 10,699,267; NIST SP 800-63A 5.3.2). Each handler authenticates, loads what the accounts
//! core needs in one store call, runs the core once, commits what it decided in one
//! transaction and answers (docs/architecture.md §4). When the issuer's question source is an
//! HTTP service, the question and answer steps call it between the core's decision that it is
//! needed and the core's decision with its reply ([`decide`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use provisio_accounts::wire::{
    CreateWalletAccount, KbaAnswer, KbaStep, OptedOut, WalletAccountView,
};
use provisio_accounts::{
    AccountContext, AccountRecord, CreateRequest, Decided, KbaChange, KbaError, KbaFacts, Step,
};
use provisio_store::{AccountFactsQuery, Conflict, Role, StoreError};

use super::admin::replay_after_race;
use super::parse_json;
use crate::account_crypto::{ServiceVault, context};
use crate::auth::require;
use crate::error::Problem;
use crate::idempotency::IdempotencyKey;
use crate::kba_source;
use crate::{ApiError, AppState};

const PATH: &str = "/v1/wallet-accounts";

/// Creates a mobile payment account for a wallet user on a device, in the one-time
/// `PENDING_ACTIVATION` state, with the security level that sets how many questions each
/// verification attempt asks.
#[utoipa::path(post, path = "/v1/wallet-accounts", tag = "wallet accounts",
    request_body = CreateWalletAccount,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same body")),
    responses(
        (status = 201, body = WalletAccountView, description = "Created, PENDING_ACTIVATION"),
        (status = 400, body = Problem, description = "malformed_request, unknown_issuer, module_unknown: the module's manifest is not one this service transmitted"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a token requestor key, or the wallet manages its own accounts; module_superseded: install the current wallet module first"),
        (status = 409, body = Problem, description = "account_exists: the wallet user has an account that is not expired"),
        (status = 422, body = Problem, description = "idempotency_conflict"),
    ),
    security(("api_key" = ["token_requestor"])))]
pub(crate) async fn create_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = require(&state, &headers, Role::TokenRequestor).await?;
    if !caller.hosted_accounts {
        return Err(ApiError::forbidden(
            "this wallet is registered with wallet_accounts \"external\" and manages its own accounts",
        ));
    }
    let idem = IdempotencyKey::from_request(&state, &headers, &caller.id, PATH, &body)?;
    let parsed = parse_json::<CreateWalletAccount>(&body)
        .and_then(|b| CreateRequest::parse(b).map_err(ApiError::from));
    let req = match parsed {
        Ok(req) => req,
        // A used key is answered before the body is looked at (docs/protocol.md §1.4).
        Err(malformed) => match &idem {
            Some(key) => return key.replay(&state).await?.ok_or(malformed),
            None => return Err(malformed),
        },
    };
    let facts = state
        .store
        .account_facts(&AccountFactsQuery {
            idempotency: idem.as_ref().map(IdempotencyKey::lookup),
            token_requestor_id: caller.id.clone(),
            wallet_user_id: req.wallet_user_id.as_str().to_owned(),
            device_id: req.device_id.as_str().to_owned(),
            issuer_id: req.body.issuer_id.clone(),
            customer_ref: req.body.user.customer_ref.clone(),
        })
        .await?;
    if let Some(key) = &idem
        && let Some(replayed) = key.replay_of(&state, facts.idempotency.as_ref())?
    {
        return Ok(replayed);
    }
    provisio_accounts::check_installed_module(
        state.crypto.as_ref(),
        &req.body.module,
        &state.keys.jwks(),
        &state.config.tsp_id,
        &state.accounts.module_version,
    )?;
    let vault = ServiceVault::of(&state);
    let ctx = context(&state, &vault);
    let created = req.create(&ctx, &caller.id, &facts.new_account)?;
    let body = serde_json::to_string(&created.view).map_err(|e| ApiError::internal(&e))?;
    let idem_record = idem
        .as_ref()
        .map(|k| k.record(&state, StatusCode::CREATED, &body, ctx.now))
        .transpose()?;
    match state
        .store
        .create_account(&created.account, &created.created, idem_record.as_ref())
        .await
    {
        Ok(()) => {
            let level = &created.level;
            tracing::info!(account_id = %created.account.account_id, level = level.level.as_str(), score = level.score, reasons = ?level.reasons, "wallet account created");
            Ok((
                StatusCode::CREATED,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response())
        }
        Err(StoreError::Conflict(Conflict::WalletAccount)) => Err(KbaError::AccountExists.into()),
        Err(StoreError::Conflict(Conflict::IdempotencyKey)) => {
            replay_after_race(&state, idem.as_ref()).await
        }
        Err(e) => Err(e.into()),
    }
}

/// An account of the calling wallet.
#[utoipa::path(get, path = "/v1/wallet-accounts/{account_id}", tag = "wallet accounts",
    params(("account_id" = String, Path, description = "From the creation answer")),
    responses(
        (status = 200, body = WalletAccountView),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a token requestor key"),
        (status = 404, body = Problem, description = "not_found"),
    ),
    security(("api_key" = ["token_requestor"])))]
pub(crate) async fn get_account(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<WalletAccountView>, ApiError> {
    let account = load(&state, &headers, &account_id).await?;
    Ok(Json(account.view(&state.accounts)))
}

/// The question to answer now: starts an attempt when none is open (drawing questions never
/// asked of this account from the issuer's source), shows the open question again with its
/// unchanged deadline, or reports that its time ran out (the attempt fails).
#[utoipa::path(post, path = "/v1/wallet-accounts/{account_id}/kba/question", tag = "wallet accounts",
    params(("account_id" = String, Path, description = "A PENDING_ACTIVATION account")),
    responses(
        (status = 200, body = KbaStep, description = "QUESTION, or ATTEMPT_FAILED / LOCKED after a time-out"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a token requestor key"),
        (status = 404, body = Problem, description = "not_found"),
        (status = 409, body = Problem, description = "account_not_pending, kba_opted_out, kba_unavailable (too few unused questions), account_conflict"),
        (status = 410, body = Problem, description = "account_expired"),
        (status = 502, body = Problem, description = "kba_source_error: the issuer's or third party's source failed"),
    ),
    security(("api_key" = ["token_requestor"])))]
pub(crate) async fn question(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<KbaStep>, ApiError> {
    let facts = load_kba(&state, &headers, &account_id, true).await?;
    let vault = ServiceVault::of(&state);
    let ctx = context(&state, &vault);
    let decided = decide(&state, &ctx, facts.question(&ctx)).await?;
    Ok(Json(commit(&state, decided).await?))
}

/// Answers the open question. The answer says only whether the attempt goes on, failed,
/// locked the account or activated it, never which answer was wrong.
#[utoipa::path(post, path = "/v1/wallet-accounts/{account_id}/kba/answer", tag = "wallet accounts",
    request_body = KbaAnswer,
    params(("account_id" = String, Path, description = "A PENDING_ACTIVATION account")),
    responses(
        (status = 200, body = KbaStep, description = "QUESTION (the next), ATTEMPT_FAILED, LOCKED or ACTIVATED"),
        (status = 400, body = Problem, description = "malformed_request, kba_unknown_option"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a token requestor key"),
        (status = 404, body = Problem, description = "not_found"),
        (status = 409, body = Problem, description = "account_not_pending, kba_opted_out, kba_no_open_question, kba_question_mismatch, account_conflict"),
        (status = 410, body = Problem, description = "account_expired"),
        (status = 502, body = Problem, description = "kba_source_error"),
    ),
    security(("api_key" = ["token_requestor"])))]
pub(crate) async fn answer(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<KbaStep>, ApiError> {
    let facts = load_kba(&state, &headers, &account_id, false).await?;
    let req: KbaAnswer = parse_json(&body)?;
    let vault = ServiceVault::of(&state);
    let ctx = context(&state, &vault);
    let decided = decide(&state, &ctx, facts.answer(&ctx, &req)).await?;
    Ok(Json(commit(&state, decided).await?))
}

/// The user opts out of knowledge-based verification (NIST SP 800-63A 5.3.2 requires the
/// choice). Verification ends for good without counting as a failure; the account stays
/// pending until the card issuer verifies the user another way.
#[utoipa::path(post, path = "/v1/wallet-accounts/{account_id}/kba/opt-out", tag = "wallet accounts",
    params(("account_id" = String, Path, description = "A PENDING_ACTIVATION account")),
    responses(
        (status = 200, body = OptedOut),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a token requestor key"),
        (status = 404, body = Problem, description = "not_found"),
        (status = 409, body = Problem, description = "account_not_pending, kba_opted_out, account_conflict"),
        (status = 410, body = Problem, description = "account_expired"),
    ),
    security(("api_key" = ["token_requestor"])))]
pub(crate) async fn opt_out(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<OptedOut>, ApiError> {
    let account = load(&state, &headers, &account_id).await?;
    let decided = account.opt_out(state.clock.now());
    Ok(Json(commit(&state, decided).await?))
}

/// The core's decision on a step. When the issuer's source is an HTTP service, the core first
/// says what to ask it and decides once its reply is in: the call is I/O, which the core does
/// not do, so the one decision spans two core calls around it; nothing is committed before
/// the second (docs/protocol.md §9.7).
async fn decide(
    state: &AppState,
    ctx: &AccountContext<'_>,
    step: Step<'_>,
) -> Result<Decided<KbaStep>, ApiError> {
    match step {
        Step::Decided(decided) => Ok(*decided),
        Step::AskSource(ask) => {
            let reply = kba_source::ask(state, ask.call()).await?;
            Ok(ask.resume(ctx, &reply))
        }
    }
}

/// Commits a step's change (if any) and gives its answer. A lost race is 409
/// `account_conflict`, except for an expiry another request recorded first: the answer is
/// the same 410.
pub(crate) async fn commit<T>(state: &AppState, decided: Decided<T>) -> Result<T, ApiError> {
    if let Some(change) = &decided.change {
        match state.store.commit_kba(change).await {
            Ok(()) => log_transition(change),
            Err(StoreError::Conflict(Conflict::AccountVersion | Conflict::QuestionRepeated))
                if decided.answer.is_err() => {}
            Err(StoreError::Conflict(Conflict::AccountVersion | Conflict::QuestionRepeated)) => {
                return Err(KbaError::Conflict.into());
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(decided.answer?)
}

fn log_transition(change: &KbaChange) {
    if let Some(t) = &change.transition {
        tracing::info!(account_id = %t.account_id, to = t.to.as_str(), channel = t.channel.as_str(), reason = %t.reason, "wallet account changed state");
    }
}

/// The calling wallet's account, or 404 (another wallet's account is not shown).
async fn load(
    state: &AppState,
    headers: &HeaderMap,
    account_id: &str,
) -> Result<AccountRecord, ApiError> {
    let caller = require(state, headers, Role::TokenRequestor).await?;
    state
        .store
        .account(account_id)
        .await?
        .filter(|a| a.token_requestor_id == caller.id)
        .ok_or_else(|| ApiError::not_found("no such wallet account"))
}

/// The facts of a verification step on the calling wallet's account, or 404; with `draw`,
/// what a new attempt draws from too.
async fn load_kba(
    state: &AppState,
    headers: &HeaderMap,
    account_id: &str,
    draw: bool,
) -> Result<KbaFacts, ApiError> {
    let caller = require(state, headers, Role::TokenRequestor).await?;
    state
        .store
        .kba_facts(account_id, draw)
        .await?
        .filter(|f| f.account.token_requestor_id == caller.id)
        .ok_or_else(|| ApiError::not_found("no such wallet account"))
}
