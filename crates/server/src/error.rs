//! The one place where errors become HTTP answers: RFC 9457 problem documents with the stable
//! codes of PROTOCOL.md section 4. Internal detail is logged, never sent.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use provisio_accounts::KbaError;
use provisio_store::{Conflict, StoreError};
use provisio_tsp::{PushError, ScriptError, StepUpError};
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`urn:provisio:problem:<code>`).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// Stable machine-readable code (PROTOCOL.md section 4).
    pub code: String,
    /// What happened in this case; never contains secrets.
    pub detail: String,
}

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

impl ApiError {
    /// An error with a status, a stable code and a detail sentence.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// 400 `malformed_request`.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_request", detail)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required (Authorization: Bearer <api_key>)",
        )
    }

    /// 403 `forbidden`.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 404 `not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 500 `internal_error`; the cause is logged here and not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred; it has been logged",
        )
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

fn title(code: &str) -> &'static str {
    match code {
        "unauthorized" => "Unauthorized",
        "forbidden" => "Forbidden",
        "not_found" => "Not found",
        "malformed_request" => "Malformed request",
        "payload_undecryptable" => "Payload cannot be decrypted",
        "signature_invalid" => "Signature invalid",
        "unknown_issuer" => "Unknown issuer",
        "audience_mismatch" => "Audience mismatch",
        "binding_mismatch" => "Binding mismatch",
        "stale_timestamp" => "Stale timestamp",
        "replayed_request" => "Replayed request",
        "invalid_account" => "Invalid account",
        "idempotency_conflict" => "Idempotency key reused with a different request",
        "issuer_exists" | "token_requestor_exists" => "Already registered",
        "unavailable" => "Service unavailable",
        "step_up_not_pending" => "No step-up pending",
        "unknown_method" => "Unknown step-up method",
        "otp_invalid" => "Wrong code",
        "otp_expired" => "Code expired",
        "otp_used" => "Code already used",
        "otp_tries_exhausted" => "Code has no tries left",
        "otp_resend_limit" => "No more codes can be sent",
        "step_up_locked" => "Step-up locked",
        "step_up_conflict" => "Concurrent step-up change",
        "script_mismatch" => "Wrong script",
        "script_incomplete" => "Script not completed",
        "account_not_active" => "Wallet account not active",
        "account_exists" => "Wallet account exists",
        "account_not_pending" => "Wallet account not pending activation",
        "account_expired" => "Wallet account expired",
        "account_conflict" => "Concurrent wallet account change",
        "illegal_transition" => "Illegal account state transition",
        "kba_opted_out" => "Verification opted out",
        "kba_no_open_question" => "No question open",
        "kba_question_mismatch" => "Not the open question",
        "kba_unknown_option" => "Unknown option",
        "kba_unavailable" => "Not enough questions",
        "kba_source_error" => "Question source failed",
        _ => "Internal error",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            problem_type: format!("urn:provisio:problem:{}", self.code),
            title: title(self.code).into(),
            status: self.status.as_u16(),
            code: self.code.into(),
            detail: self.detail,
        };
        let body = serde_json::to_string(&problem).unwrap_or_default();
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        response.extensions_mut().insert(ErrorCode(self.code));
        response
    }
}

/// The code of an error answer, for logs and metrics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorCode(pub(crate) &'static str);

impl From<PushError> for ApiError {
    fn from(e: PushError) -> Self {
        if e.status() >= 500 {
            return Self::internal(&e);
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        Self::new(status, e.code(), e.to_string())
    }
}

impl From<StepUpError> for ApiError {
    fn from(e: StepUpError) -> Self {
        if e.status() >= 500 {
            return Self::internal(&e);
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        Self::new(status, e.code(), e.to_string())
    }
}

impl From<KbaError> for ApiError {
    fn from(e: KbaError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::CONFLICT);
        Self::new(status, e.code(), e.to_string())
    }
}

impl From<ScriptError> for ApiError {
    fn from(e: ScriptError) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string())
    }
}

impl From<provisio_tsm::TsmError> for ApiError {
    fn from(e: provisio_tsm::TsmError) -> Self {
        use provisio_tsm::TsmError as T;
        let status = match &e {
            T::OutsideOwnDomain(_) => StatusCode::FORBIDDEN,
            T::RequestConflict | T::DomainNotReady | T::Finished | T::IllegalTransition { .. } => {
                StatusCode::CONFLICT
            }
            T::Handover => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Self::new(status, e.code(), e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(Conflict::SessionId) => PushError::Replayed("session id").into(),
            StoreError::Conflict(Conflict::Jti) => PushError::Replayed("request data (jti)").into(),
            StoreError::Unavailable(_) => {
                tracing::error!(error = %e, "store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the store is unavailable; retry later",
                )
            }
            other => Self::internal(&other),
        }
    }
}
