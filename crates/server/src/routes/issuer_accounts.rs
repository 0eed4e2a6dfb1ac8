//! What a card issuer does for hosted wallet accounts (docs/protocol.md §9.1, §9.3): load
//! enrolment facts for the question bank, and verify a user another way (after an opt-out) to
//! activate their account. Each handler authenticates, loads what the accounts core needs (if
//! anything) in one store call, runs the core once, commits once and answers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use provisio_accounts::EnrolmentLoad;
use provisio_accounts::wire::{Enrolment, EnrolmentLoaded, IssuerVerification, WalletAccountView};
use provisio_store::Role;

use super::accounts::commit;
use super::parse_json;
use crate::account_crypto::{ServiceVault, context};
use crate::auth::require;
use crate::error::Problem;
use crate::{ApiError, AppState};

/// Loads what the issuer knows about a customer: name, phone and e-mail on file (kept as
/// keyed hashes, for the data-mismatch rules) and facts the service's question bank turns
/// into multiple-choice questions (kept sealed; the right option only as a keyed hash). A
/// new load replaces the customer's questions.
#[utoipa::path(post, path = "/v1/issuer/enrolments", tag = "wallet accounts",
    request_body = Enrolment,
    responses(
        (status = 200, body = EnrolmentLoaded),
        (status = 400, body = Problem, description = "malformed_request (names the fact at fault)"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an issuer key"),
    ),
    security(("api_key" = ["issuer"])))]
pub(crate) async fn load_enrolment(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<EnrolmentLoaded>, ApiError> {
    let issuer = require(&state, &headers, Role::Issuer).await?;
    let req: Enrolment = parse_json(&body)?;
    let vault = ServiceVault::of(&state);
    let load = EnrolmentLoad::prepare(&context(&state, &vault), &issuer.id, &req)?;
    state
        .store
        .load_enrolment(&load.enrolment, &load.questions)
        .await?;
    Ok(Json(load.answer))
}

/// The issuer verified the user outside the wallet (call centre, branch, its own app) and
/// activates the pending account: the alternative to knowledge-based verification.
#[utoipa::path(post, path = "/v1/issuer/wallet-accounts/{account_id}/verification", tag = "wallet accounts",
    request_body = IssuerVerification,
    params(("account_id" = String, Path, description = "A PENDING_ACTIVATION account of one of the issuer's customers")),
    responses(
        (status = 200, body = WalletAccountView, description = "ACTIVE"),
        (status = 400, body = Problem, description = "malformed_request"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not an issuer key"),
        (status = 404, body = Problem, description = "not_found (also another issuer's account)"),
        (status = 409, body = Problem, description = "illegal_transition (the account is not pending), account_conflict"),
        (status = 410, body = Problem, description = "account_expired"),
    ),
    security(("api_key" = ["issuer"])))]
pub(crate) async fn verify(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WalletAccountView>, ApiError> {
    let issuer = require(&state, &headers, Role::Issuer).await?;
    let req: IssuerVerification = parse_json(&body)?;
    let account = state
        .store
        .account(&account_id)
        .await?
        .filter(|a| a.issuer_id == issuer.id)
        .ok_or_else(|| ApiError::not_found("no such wallet account for this issuer"))?;
    let decided = account.issuer_verified(&state.accounts, req.method, state.clock.now());
    Ok(Json(commit(&state, decided).await?))
}
