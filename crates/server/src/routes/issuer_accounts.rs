//! What a card issuer does for hosted wallet accounts: load enrolment facts for the question
//! bank, and verify a user another way (after an opt-out) to activate their account.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use provisio_accounts::wire::{
    Enrolment, EnrolmentLoaded, IssuerVerification, VerificationMethod, WalletAccountView,
};
use provisio_accounts::{FactError, KbaError};
use provisio_store::{EnrolmentRecord, QuestionRecord, Role};
use provisio_tsp::random_id;

use super::accounts::{commit, expire, view};
use super::parse_json;
use crate::account_crypto::{answer_mac, identity_hashes, seal_question};
use crate::auth::require;
use crate::error::Problem;
use crate::{ApiError, AppState};

/// Most facts one enrolment may carry.
const MAX_FACTS: usize = 50;

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
    security(("api_key" = [])))]
pub(crate) async fn load_enrolment(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<EnrolmentLoaded>, ApiError> {
    let issuer = require(&state, &headers, Role::Issuer).await?;
    let req: Enrolment = parse_json(&body)?;
    let ref_ok = (1..=64).contains(&req.customer_ref.len())
        && req.customer_ref.bytes().all(|b| b.is_ascii_graphic());
    if !ref_ok || req.facts.is_empty() || req.facts.len() > MAX_FACTS {
        return Err(ApiError::malformed(format!(
            "customer_ref is 1 to 64 visible characters, facts 1 to {MAX_FACTS}"
        )));
    }
    let crypto = state.crypto.as_ref();
    let options = state.accounts.options_per_question as usize;
    let mut questions = Vec::with_capacity(req.facts.len());
    for (index, fact) in req.facts.iter().enumerate() {
        let id = random_id(crypto, "kq_").map_err(|e| ApiError::internal(&e))?;
        let built = fact
            .to_question(crypto, id, options, index)
            .map_err(|e| match e {
                FactError::Invalid { .. } => ApiError::malformed(format!("facts: {e}")),
                FactError::Random(e) => ApiError::internal(&e),
            })?;
        questions.push(QuestionRecord {
            sealed: seal_question(&state, &built.question)?,
            answer_mac: Some(answer_mac(
                &state,
                &built.question.id,
                &built.correct_option,
            )),
            question_id: built.question.id,
        });
    }
    let [name_hash, phone_hash, email_hash] =
        identity_hashes(&state, &req.name, &req.phone, &req.email);
    let record = EnrolmentRecord {
        issuer_id: issuer.id,
        customer_ref: req.customer_ref.clone(),
        name_hash,
        phone_hash,
        email_hash,
        customer_since: req.customer_since,
        loaded_at: state.clock.now(),
    };
    state.store.load_enrolment(&record, &questions).await?;
    Ok(Json(EnrolmentLoaded {
        customer_ref: req.customer_ref,
        questions: questions.len() as u32,
    }))
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
        (status = 404, body = Problem, description = "not_found (also another issuer's account)"),
        (status = 409, body = Problem, description = "illegal_transition (the account is not pending), account_conflict"),
        (status = 410, body = Problem, description = "account_expired"),
    ),
    security(("api_key" = [])))]
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
    let now = state.clock.now();
    let method: &'static str = VerificationMethod::as_str(req.method);
    let change = match account.progress.issuer_verified(method, now) {
        Err(KbaError::Expired) => return Err(expire(&state, &account, now).await),
        other => other?,
    };
    commit(&state, &change).await?;
    tracing::info!(%account_id, method, "wallet account verified by the issuer");
    let account = state
        .store
        .account(&account_id)
        .await?
        .ok_or_else(|| ApiError::internal(&"an account vanished"))?;
    Ok(Json(view(&state, &account).await?))
}
