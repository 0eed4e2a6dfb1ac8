//! Hosted wallet accounts, as the wallet calls them: creation in `PENDING_ACTIVATION`, and
//! knowledge-based verification question by question (US 10,699,267; NIST SP 800-63A 5.3.2).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use provisio_accounts::wire::{
    AccountUser, CreateWalletAccount, KbaAnswer, KbaResult, KbaStep, KbaView, OptedOut,
    PresentedQuestion, WalletAccountView,
};
use provisio_accounts::{
    AccountState, AnswerCheck, Channel, KbaChange, KbaError, LevelFacts, Next, Outcome, Question,
    Transition,
};
use provisio_store::{AccountFactsQuery, AccountRecord, Conflict, NewAccount, Role, StoreError};
use provisio_tsp::random_id;
use provisio_types::{Code, DeviceId, WalletUserId};

use super::admin::replay_after_race;
use super::parse_json;
use crate::account_crypto::{identity_hashes, open_question, seal_user};
use crate::auth::require;
use crate::error::Problem;
use crate::idempotency;
use crate::kba_source::Source;
use crate::{ApiError, AppState};

/// Creates a mobile payment account for a wallet user on a device, in the one-time
/// `PENDING_ACTIVATION` state, with the security level that sets how many questions each
/// verification attempt asks.
#[utoipa::path(post, path = "/v1/wallet-accounts", tag = "wallet accounts",
    request_body = CreateWalletAccount,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same body")),
    responses(
        (status = 201, body = WalletAccountView, description = "Created, PENDING_ACTIVATION"),
        (status = 400, body = Problem, description = "malformed_request, unknown_issuer"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a token requestor key, or the wallet manages its own accounts"),
        (status = 409, body = Problem, description = "account_exists: the wallet user has an account that is not expired"),
        (status = 422, body = Problem, description = "idempotency_conflict"),
    ),
    security(("api_key" = [])))]
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
    let (idem, replay) =
        idempotency::begin(&state, &headers, &caller.id, "/v1/wallet-accounts", &body).await?;
    if let Some(replayed) = replay {
        return Ok(replayed);
    }
    let req: CreateWalletAccount = parse_json(&body)?;
    check_request(&req)?;
    if state.store.issuer(&req.issuer_id).await?.is_none() {
        return Err(ApiError::new(
            Code::UnknownIssuer,
            "issuer_id names no registered issuer",
        ));
    }
    let now = state.clock.now();
    let source = state
        .store
        .kba_source(&req.issuer_id)
        .await?
        .map_or(provisio_accounts::wire::SourceKind::Bank, |s| s.kind);
    let facts = state
        .store
        .account_facts(&AccountFactsQuery {
            token_requestor_id: caller.id.clone(),
            wallet_user_id: req.wallet_user_id.clone(),
            device_id: req.device.device_id.clone(),
            issuer_id: req.issuer_id.clone(),
            customer_ref: req.user.customer_ref.clone(),
        })
        .await?;
    let [name, phone, email] =
        identity_hashes(&state, &req.user.name, &req.user.phone, &req.user.email);
    let enrolment = facts.enrolment.as_ref();
    let decision = state.accounts.level.decide(&LevelFacts {
        device_blocklisted: facts.device_blocklisted,
        device_risk_score: req.device.risk_score,
        other_users_on_device: facts.other_users_on_device,
        customer_unknown: enrolment.is_none()
            && source == provisio_accounts::wire::SourceKind::Bank,
        name_mismatch: enrolment.is_some_and(|e| e.name_hash != name),
        phone_mismatch: enrolment.is_some_and(|e| e.phone_hash != phone),
        email_mismatch: enrolment.is_some_and(|e| e.email_hash != email),
        customer_days: enrolment
            .and_then(|e| e.customer_since)
            .map(|since| (now - since) / 86_400),
        prior_locked_accounts: facts.prior_locked_accounts,
    });
    let account_id = random_id(state.crypto.as_ref(), "wa_").map_err(|e| ApiError::internal(&e))?;
    let account = NewAccount {
        account_id: account_id.clone(),
        token_requestor_id: caller.id.clone(),
        wallet_user_id: req.wallet_user_id.clone(),
        issuer_id: req.issuer_id.clone(),
        customer_ref: req.user.customer_ref.clone(),
        device_id: req.device.device_id.clone(),
        device_model: req.device.model.clone(),
        device_os: req.device.os.clone(),
        secure_element_id: req.device.secure_element_id.clone(),
        binding_jwk: serde_json::to_string(&req.device.binding_jwk)
            .map_err(|e| ApiError::internal(&e))?,
        user_sealed: seal_user(&state, &account_id, &req.user)?,
        security_level: decision.level,
        level_score: decision.score,
        level_reasons: serde_json::to_string(&decision.reasons)
            .map_err(|e| ApiError::internal(&e))?,
        kba_source: source,
        created_at: now,
        expires_at: now + state.accounts.pending_ttl_s,
    };
    let created = Transition {
        account_id: account_id.clone(),
        from: None,
        to: AccountState::PendingActivation,
        channel: Channel::Wallet,
        reason: "created".into(),
        at: now,
    };
    let cfg = &state.accounts;
    let view = WalletAccountView {
        account_id: account_id.clone(),
        wallet_user_id: account.wallet_user_id.clone(),
        issuer_id: account.issuer_id.clone(),
        device_id: account.device_id.clone(),
        state: AccountState::PendingActivation,
        state_reason: created.reason.clone(),
        security_level: decision.level,
        kba: KbaView {
            status: "NOT_STARTED".into(),
            source,
            questions_per_attempt: cfg.questions_for(decision.level),
            attempts_used: 0,
            max_attempts: cfg.max_attempts,
            question_time_limit_s: cfg.question_time_limit_s,
        },
        created_at: now,
        expires_at: account.expires_at,
        activated_at: None,
    };
    let body = serde_json::to_string(&view).map_err(|e| ApiError::internal(&e))?;
    let idem_record = idem
        .as_ref()
        .map(|k| k.record(StatusCode::CREATED, &body, now));
    match state
        .store
        .create_account(&account, &created, idem_record.as_ref())
        .await
    {
        Ok(()) => {
            tracing::info!(%account_id, level = decision.level.as_str(), score = decision.score, reasons = ?decision.reasons, "wallet account created");
            Ok((
                StatusCode::CREATED,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response())
        }
        Err(StoreError::Conflict(Conflict::WalletAccount)) => Err(ApiError::new(
            Code::AccountExists,
            "this wallet user already has an account that is not expired",
        )),
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
        (status = 404, body = Problem, description = "not_found"),
    ),
    security(("api_key" = [])))]
pub(crate) async fn get_account(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<WalletAccountView>, ApiError> {
    let account = load(&state, &headers, &account_id).await?;
    Ok(Json(view(&state, &account).await?))
}

/// The question to answer now: starts an attempt when none is open (drawing questions never
/// asked of this account from the issuer's source), shows the open question again with its
/// unchanged deadline, or reports that its time ran out (the attempt fails).
#[utoipa::path(post, path = "/v1/wallet-accounts/{account_id}/kba/question", tag = "wallet accounts",
    params(("account_id" = String, Path, description = "A PENDING_ACTIVATION account")),
    responses(
        (status = 200, body = KbaStep, description = "QUESTION, or ATTEMPT_FAILED / LOCKED after a time-out"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 404, body = Problem, description = "not_found"),
        (status = 409, body = Problem, description = "account_not_pending, kba_opted_out, kba_unavailable (too few unused questions), account_conflict"),
        (status = 410, body = Problem, description = "account_expired"),
        (status = 502, body = Problem, description = "kba_source_error: the issuer's or third party's source failed"),
    ),
    security(("api_key" = [])))]
pub(crate) async fn question(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<KbaStep>, ApiError> {
    let account = load(&state, &headers, &account_id).await?;
    let now = state.clock.now();
    let next = match account.progress.question(&state.accounts, now) {
        Err(KbaError::Expired) => return Err(expire(&state, &account, now).await),
        other => other?,
    };
    match next {
        Next::Start { number, count } => {
            let source = Source::of_issuer(&state, &account.issuer_id).await?;
            let drawn = source.draw(&state, &account, count).await?;
            let first = drawn.first().map(|(_, q)| q.clone());
            let prepared = drawn.into_iter().map(|(p, _)| p).collect();
            let (change, outcome) =
                account
                    .progress
                    .start_attempt(&state.accounts, number, prepared, now);
            commit(&state, &change).await?;
            Ok(Json(step(&state, &account, Some(&change), &outcome, first)))
        }
        Next::Answer(change, outcome) => {
            if let Some(change) = &change {
                commit(&state, change).await?;
            }
            let shown = shown_question(&state, &account_id, &outcome).await?;
            Ok(Json(step(
                &state,
                &account,
                change.as_deref(),
                &outcome,
                shown,
            )))
        }
    }
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
        (status = 404, body = Problem, description = "not_found"),
        (status = 409, body = Problem, description = "account_not_pending, kba_opted_out, kba_no_open_question, kba_question_mismatch, account_conflict"),
        (status = 410, body = Problem, description = "account_expired"),
        (status = 502, body = Problem, description = "kba_source_error"),
    ),
    security(("api_key" = [])))]
pub(crate) async fn answer(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<KbaStep>, ApiError> {
    let account = load(&state, &headers, &account_id).await?;
    let req: KbaAnswer = parse_json(&body)?;
    let now = state.clock.now();
    let check = match account
        .progress
        .answer(&state.accounts, &req.question_id, now)
    {
        Err(KbaError::Expired) => return Err(expire(&state, &account, now).await),
        other => other?,
    };
    let (change, outcome) = match check {
        AnswerCheck::Late(change, outcome) => (*change, outcome),
        AnswerCheck::Verify => {
            let drawn = state
                .store
                .served_question(&account_id, &req.question_id)
                .await?
                .ok_or_else(|| ApiError::internal(&"the open question is not stored"))?;
            let question = open_question(&state, &drawn.question_id, &drawn.sealed)?;
            if !question.has_option(&req.option_id) {
                return Err(ApiError::new(
                    Code::KbaUnknownOption,
                    "option_id is not an option of the open question",
                ));
            }
            let source = Source::of_issuer(&state, &account.issuer_id).await?;
            let correct = source
                .check(&state, &account, &drawn, &req.option_id)
                .await?;
            account
                .progress
                .record_answer(&state.accounts, correct, now)?
        }
    };
    commit(&state, &change).await?;
    if let Some(t) = &change.transition {
        tracing::info!(%account_id, to = t.to.as_str(), reason = %t.reason, "wallet account verification ended");
    }
    let shown = shown_question(&state, &account_id, &outcome).await?;
    Ok(Json(step(&state, &account, Some(&change), &outcome, shown)))
}

/// The user opts out of knowledge-based verification (NIST SP 800-63A 5.3.2 requires the
/// choice). Verification ends for good without counting as a failure; the account stays
/// pending until the card issuer verifies the user another way.
#[utoipa::path(post, path = "/v1/wallet-accounts/{account_id}/kba/opt-out", tag = "wallet accounts",
    params(("account_id" = String, Path, description = "A PENDING_ACTIVATION account")),
    responses(
        (status = 200, body = OptedOut),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 404, body = Problem, description = "not_found"),
        (status = 409, body = Problem, description = "account_not_pending, kba_opted_out, account_conflict"),
        (status = 410, body = Problem, description = "account_expired"),
    ),
    security(("api_key" = [])))]
pub(crate) async fn opt_out(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<OptedOut>, ApiError> {
    let account = load(&state, &headers, &account_id).await?;
    let now = state.clock.now();
    let change = match account.progress.opt_out(now) {
        Err(KbaError::Expired) => return Err(expire(&state, &account, now).await),
        other => other?,
    };
    commit(&state, &change).await?;
    Ok(Json(OptedOut {
        state: AccountState::PendingActivation,
        kba_status: change.kba.as_str().into(),
        alternatives: vec!["ISSUER_VERIFICATION".into()],
    }))
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

/// Commits a verification change; a lost race is 409 `account_conflict`.
pub(crate) async fn commit(state: &AppState, change: &KbaChange) -> Result<(), ApiError> {
    match state.store.commit_kba(change).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(Conflict::AccountVersion | Conflict::QuestionRepeated)) => {
            Err(ApiError::new(
                Code::AccountConflict,
                "the account changed concurrently; read it again and retry",
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// Records that a pending account expired and answers 410 `account_expired`.
pub(crate) async fn expire(state: &AppState, account: &AccountRecord, now: i64) -> ApiError {
    if let Ok(change) = account.progress.expire(now) {
        // A concurrent request may have recorded it first; the answer is the same.
        if let Err(e) = commit(state, &change).await
            && e.code() != Code::AccountConflict
        {
            return e;
        }
        tracing::info!(account_id = %account.progress.account_id, "wallet account expired");
    }
    KbaError::Expired.into()
}

/// An account as the wallet sees it.
pub(crate) async fn view(
    state: &AppState,
    account: &AccountRecord,
) -> Result<WalletAccountView, ApiError> {
    let p = &account.progress;
    let state_reason = state
        .store
        .account_events(&p.account_id)
        .await?
        .pop()
        .map(|t| t.reason)
        .unwrap_or_default();
    Ok(WalletAccountView {
        account_id: p.account_id.clone(),
        wallet_user_id: account.wallet_user_id.clone(),
        issuer_id: account.issuer_id.clone(),
        device_id: account.device_id.clone(),
        state: p.state,
        state_reason,
        security_level: p.level,
        kba: KbaView {
            status: p.kba.as_str().into(),
            source: account.kba_source,
            questions_per_attempt: state.accounts.questions_for(p.level),
            attempts_used: p.attempts_used,
            max_attempts: state.accounts.max_attempts,
            question_time_limit_s: state.accounts.question_time_limit_s,
        },
        created_at: account.created_at,
        expires_at: p.expires_at,
        activated_at: account.activated_at,
    })
}

async fn shown_question(
    state: &AppState,
    account_id: &str,
    outcome: &Outcome,
) -> Result<Option<Question>, ApiError> {
    let Outcome::Question { question_id, .. } = outcome else {
        return Ok(None);
    };
    let drawn = state
        .store
        .served_question(account_id, question_id)
        .await?
        .ok_or_else(|| ApiError::internal(&"a shown question is not stored"))?;
    open_question(state, question_id, &drawn.sealed).map(Some)
}

/// The answer to a step: the account as `change` (if any) leaves it.
fn step(
    state: &AppState,
    account: &AccountRecord,
    change: Option<&KbaChange>,
    outcome: &Outcome,
    shown: Option<Question>,
) -> KbaStep {
    let account_state = change
        .and_then(|c| c.transition.as_ref())
        .map_or(account.progress.state, |t| t.to);
    let attempts_used = change.map_or(account.progress.attempts_used, |c| c.attempts_used);
    let (result, reason, question) = match outcome {
        Outcome::Question {
            attempt,
            position,
            count,
            deadline,
            ..
        } => (
            KbaResult::Question,
            None,
            shown.map(|q| PresentedQuestion {
                attempt: *attempt,
                position: *position,
                count: *count,
                expires_at: *deadline,
                id: q.id,
                text: q.text,
                options: q.options,
            }),
        ),
        Outcome::AttemptFailed { reason } => (KbaResult::AttemptFailed, Some(*reason), None),
        Outcome::Locked { reason } => (KbaResult::Locked, Some(*reason), None),
        Outcome::Activated => (KbaResult::Activated, None, None),
    };
    KbaStep {
        result,
        reason: reason.map(str::to_owned),
        state: account_state,
        attempts_used,
        max_attempts: state.accounts.max_attempts,
        question,
    }
}

fn check_request(req: &CreateWalletAccount) -> Result<(), ApiError> {
    WalletUserId::parse(&req.wallet_user_id).map_err(|e| ApiError::malformed(e.to_string()))?;
    DeviceId::parse(&req.device.device_id).map_err(|e| ApiError::malformed(e.to_string()))?;
    req.device
        .binding_jwk
        .public_key()
        .map_err(|e| ApiError::malformed(format!("device.binding_jwk: {e}")))?;
    if req.device.risk_score.is_some_and(|s| s > 99) {
        return Err(ApiError::malformed("device.risk_score is 0 to 99"));
    }
    let AccountUser {
        name,
        phone,
        email,
        customer_ref,
    } = &req.user;
    let fields = [
        ("device.model", req.device.model.as_str(), 100),
        ("device.os", req.device.os.as_str(), 100),
        ("user.name", name.as_str(), 200),
        ("user.phone", phone.as_str(), 32),
        ("user.email", email.as_str(), 254),
        ("user.customer_ref", customer_ref.as_str(), 64),
        ("issuer_id", req.issuer_id.as_str(), 64),
    ];
    for (field, value, max) in fields {
        if value.trim().is_empty() || value.len() > max {
            return Err(ApiError::malformed(format!(
                "{field} must be 1 to {max} bytes"
            )));
        }
    }
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&digits) || !email.contains('@') {
        return Err(ApiError::malformed(
            "user.phone needs 7 to 15 digits and user.email an @",
        ));
    }
    Ok(())
}
