//! The one place where errors become HTTP answers: RFC 9457 problem documents with the stable
//! codes of docs/protocol.md §4. Internal detail is logged, never sent.

mod code;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use provisio_accounts::KbaError;
use provisio_store::{Conflict, StoreError};
use provisio_tsp::{PushError, ScriptError, StepUpError};
use provisio_types::{Code, Fault, Refusal};
use serde::Serialize;
use utoipa::ToSchema;

pub use code::{Meaning, meaning};

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`urn:provisio:problem:<code>`).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the problem type: the same for every answer with this code.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// Stable machine-readable code (docs/protocol.md §4).
    pub code: String,
    /// What happened in this case; never contains secrets.
    pub detail: String,
    /// `already_in_wallet`: the device's existing token of the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_ref_id: Option<String>,
}

/// An error answer: a stable code and a sentence about this case.
#[derive(Debug, Clone)]
pub struct ApiError {
    code: Code,
    detail: String,
    token_ref_id: Option<String>,
}

impl ApiError {
    /// An answer with `code` (its status and title are the code's) and a detail sentence.
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            token_ref_id: None,
        }
    }

    /// 400 `malformed_request`.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(Code::MalformedRequest, detail)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            Code::Unauthorized,
            "a valid API key is required (Authorization: Bearer <api_key>)",
        )
    }

    /// 403 `forbidden`.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(Code::Forbidden, detail)
    }

    /// 404 `not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(Code::NotFound, detail)
    }

    /// 500 `internal_error`; the cause is logged here and not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        Self::hidden(Code::InternalError, cause)
    }

    /// An answer with `code` whose cause is ours: logged, and the peer gets only the code's
    /// description.
    fn hidden(code: Code, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, %code, "request failed on our side");
        Self::new(code, meaning(code).description)
    }

    /// A core's refusal: a peer's fault is told with the core's sentence; ours is logged.
    fn refused(e: &dyn Refusal) -> Self {
        match e.fault() {
            Fault::Peer => Self {
                token_ref_id: e.token_ref_id().map(str::to_owned),
                ..Self::new(e.code(), e.to_string())
            },
            Fault::Caller | Fault::Internal => Self::hidden(e.code(), &e),
        }
    }

    /// The stable code.
    pub fn code(&self) -> Code {
        self.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let meaning = meaning(self.code);
        let problem = Problem {
            problem_type: format!("urn:provisio:problem:{}", self.code),
            title: meaning.title.into(),
            status: meaning.status.as_u16(),
            code: self.code.as_str().into(),
            detail: self.detail,
            token_ref_id: self.token_ref_id,
        };
        let body = serde_json::to_string(&problem).unwrap_or_default();
        let mut response = (
            meaning.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        response.extensions_mut().insert(ErrorCode(self.code));
        response
    }
}

/// Turns the framework's own refusals (a body over the size limit, a query string that does
/// not parse) into problem documents, so every error answer of every role has a code.
pub(crate) async fn framework_problems(response: Response) -> Response {
    let status = response.status();
    if response.extensions().get::<ErrorCode>().is_some() || !status.is_client_error() {
        return response;
    }
    let (code, detail) = match status.as_u16() {
        413 => (
            Code::PayloadTooLarge,
            "the body is larger than this endpoint accepts",
        ),
        405 => (
            Code::MethodNotAllowed,
            "this endpoint does not take this method",
        ),
        404 => (Code::NotFound, "no such endpoint; see /openapi.json"),
        400 | 415 | 422 => (
            Code::MalformedRequest,
            "the request is not the documented shape; see /openapi.json",
        ),
        _ => return response,
    };
    ApiError::new(code, detail).into_response()
}

/// The code of an error answer, for logs and metrics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorCode(pub(crate) Code);

macro_rules! from_refusal {
    ($($error:ty),*) => {$(
        impl From<$error> for ApiError {
            fn from(e: $error) -> Self {
                Self::refused(&e)
            }
        }
    )*};
}

from_refusal!(
    PushError,
    StepUpError,
    KbaError,
    ScriptError,
    provisio_tsp::TokenError,
    provisio_tsp::PaymentError,
    provisio_tsm::TsmError
);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(Conflict::SessionId) => PushError::Replayed("session id").into(),
            StoreError::Conflict(Conflict::Jti) => PushError::Replayed("request data (jti)").into(),
            StoreError::Conflict(Conflict::TokenVersion | Conflict::LiveToken) => Self::new(
                Code::TokenConflict,
                "a concurrent change of the token won; read it again and retry",
            ),
            StoreError::Unavailable(_) | StoreError::Contended(_) => {
                Self::hidden(Code::Unavailable, &e)
            }
            other => Self::internal(&other),
        }
    }
}
