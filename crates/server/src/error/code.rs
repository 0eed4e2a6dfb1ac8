//! What each stable code means over HTTP: its status, its problem title and a description
//! (docs/protocol.md §4). One exhaustive match, so a new [`Code`] does not compile without
//! them, and no code falls through to another's title.

use axum::http::StatusCode;
use provisio_types::Code;

/// The HTTP meaning of a code.
#[derive(Debug, Clone, Copy)]
pub struct Meaning {
    /// The answer's status.
    pub status: StatusCode,
    /// The problem document's `title`: the same for every answer with this code.
    pub title: &'static str,
    /// When it is answered (the OpenAPI document and docs/protocol.md §4 carry it).
    pub description: &'static str,
}

const fn m(status: StatusCode, title: &'static str, description: &'static str) -> Meaning {
    Meaning {
        status,
        title,
        description,
    }
}

/// The HTTP meaning of `code`.
pub const fn meaning(code: Code) -> Meaning {
    use Code as C;
    match code {
        C::Unauthorized => m(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "No API key, or an unknown one (Authorization: Bearer <api_key>).",
        ),
        C::Forbidden => m(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "A valid key acting outside its role or on another participant's resource.",
        ),
        C::NotFound => m(
            StatusCode::NOT_FOUND,
            "Not found",
            "No such resource, or not the caller's to see.",
        ),
        C::MalformedRequest => m(
            StatusCode::BAD_REQUEST,
            "Malformed request",
            "The body, a header or a parameter is not the documented shape.",
        ),
        C::MethodNotAllowed => m(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "The path exists but does not take this method.",
        ),
        C::PayloadTooLarge => m(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload too large",
            "The body is larger than the endpoint accepts.",
        ),
        C::UnsupportedMediaType => m(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            "A request body that is not sent as Content-Type: application/json.",
        ),
        C::TooManyFailedAuthentications => m(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed authentications",
            "This peer sent too many unknown keys; retry after Retry-After seconds.",
        ),
        C::RequestTimeout => m(
            StatusCode::REQUEST_TIMEOUT,
            "Request timeout",
            "The request took longer than the server allows (docs/operations.md, [http]).",
        ),
        C::IdempotencyConflict => m(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Idempotency key reused with a different request",
            "The same Idempotency-Key came with another body.",
        ),
        C::Unavailable => m(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable",
            "The store cannot be reached; retry later.",
        ),
        C::InternalError => m(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            "A failure on the service's side; the detail is logged, never sent.",
        ),

        C::IssuerExists => m(
            StatusCode::CONFLICT,
            "Issuer already registered",
            "The issuer id is registered already.",
        ),
        C::TokenRequestorExists => m(
            StatusCode::CONFLICT,
            "Token requestor already registered",
            "The token requestor id is registered already.",
        ),
        C::NetworkExists => m(
            StatusCode::CONFLICT,
            "Network already registered",
            "The network id is registered already.",
        ),
        C::BinRangeTaken => m(
            StatusCode::CONFLICT,
            "Card range taken",
            "A card range prefix is registered to another issuer.",
        ),
        C::NoPublicUrl => m(
            StatusCode::CONFLICT,
            "No public URL",
            "Registering a TSM needs the service's --public-url, where the TSM reports.",
        ),

        C::PayloadUndecryptable => m(
            StatusCode::BAD_REQUEST,
            "Payload cannot be decrypted",
            "The JWE is malformed, names an unknown kid, or does not decrypt.",
        ),
        C::SignatureInvalid => m(
            StatusCode::BAD_REQUEST,
            "Signature invalid",
            "The inner JWS does not verify under the issuer's registered key.",
        ),
        C::UnknownIssuer => m(
            StatusCode::BAD_REQUEST,
            "Unknown issuer",
            "The request names an issuer that is not registered.",
        ),
        C::AudienceMismatch => m(
            StatusCode::BAD_REQUEST,
            "Audience mismatch",
            "The request data's aud is not this token service.",
        ),
        C::BindingMismatch => m(
            StatusCode::BAD_REQUEST,
            "Binding mismatch",
            "The signed sid, uid, did or trid differ from the outer request or the caller.",
        ),
        C::StaleTimestamp => m(
            StatusCode::BAD_REQUEST,
            "Stale timestamp",
            "The request data's iat is outside the freshness window.",
        ),
        C::ReplayedRequest => m(
            StatusCode::CONFLICT,
            "Replayed request",
            "The session id or the jti was accepted before.",
        ),
        C::InvalidAccount => m(
            StatusCode::BAD_REQUEST,
            "Invalid account",
            "The PAN is not Luhn-valid or the expiry is in the past.",
        ),
        C::AccountNotActive => m(
            StatusCode::FORBIDDEN,
            "Wallet account not active",
            "A hosted wallet's user has no ACTIVE account on this device.",
        ),
        C::DeviceKeyMismatch => m(
            StatusCode::FORBIDDEN,
            "Device key mismatch",
            "A hosted wallet's push names another binding key than the one registered with the account's device.",
        ),
        C::AlreadyInWallet => m(
            StatusCode::CONFLICT,
            "Already in wallet",
            "The device already holds a live token of this card for this wallet; the problem's token_ref_id names it.",
        ),
        C::UnknownToken => m(
            StatusCode::NOT_FOUND,
            "Unknown token",
            "No such token, or not the caller's: a token of another participant is never revealed.",
        ),
        C::InvalidTransition => m(
            StatusCode::CONFLICT,
            "Invalid transition",
            "The token's state machine does not allow this change (for example resuming a deleted token).",
        ),
        C::TokenConflict => m(
            StatusCode::CONFLICT,
            "Token changed concurrently",
            "Concurrent changes of the token kept winning; read it again and retry.",
        ),
        C::UnknownEvent => m(
            StatusCode::NOT_FOUND,
            "Unknown event",
            "No dead-lettered token event has this id.",
        ),

        C::UnknownMethod => m(
            StatusCode::BAD_REQUEST,
            "Unknown step-up method",
            "The method id is not one offered for this provisioning.",
        ),
        C::OtpInvalid => m(
            StatusCode::BAD_REQUEST,
            "Wrong code",
            "The one-time code is wrong; the detail says how many tries are left.",
        ),
        C::OtpExpired => m(
            StatusCode::BAD_REQUEST,
            "Code expired",
            "The one-time code has expired; request a new one.",
        ),
        C::OtpTriesExhausted => m(
            StatusCode::BAD_REQUEST,
            "Code has no tries left",
            "The one-time code had too many wrong tries; request a new one.",
        ),
        C::OtpUsed => m(
            StatusCode::CONFLICT,
            "Code already used",
            "The one-time code was accepted before.",
        ),
        C::StepUpNotPending => m(
            StatusCode::CONFLICT,
            "No step-up pending",
            "The step-up of this provisioning has passed already.",
        ),
        C::StepUpConflict => m(
            StatusCode::CONFLICT,
            "Concurrent step-up change",
            "A concurrent request changed the step-up; retry.",
        ),
        C::StepUpLocked => m(
            StatusCode::FORBIDDEN,
            "Step-up locked",
            "Too many wrong codes; the step-up accepts none any more.",
        ),
        C::OtpResendLimit => m(
            StatusCode::TOO_MANY_REQUESTS,
            "No more codes can be sent",
            "The limit of codes sent for this provisioning is reached.",
        ),
        C::ActivationPending => m(
            StatusCode::CONFLICT,
            "Activation pending",
            "The issuer's call centre has not activated the token yet; collect it once it has.",
        ),

        C::ScriptMismatch => m(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Wrong script",
            "The report names another script than the one sent.",
        ),
        C::ScriptIncomplete => m(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Script not completed",
            "A step is missing, out of order or failed; the credential is not installed.",
        ),
        C::ReportedByTsm => m(
            StatusCode::CONFLICT,
            "Installed by the issuer's TSM",
            "A device report for a secure-element script, which the issuer's TSM reports.",
        ),
        C::ReportConflict => m(
            StatusCode::CONFLICT,
            "Report contradicts the recorded outcome",
            "A TSM report contradicting the outcome recorded before.",
        ),

        C::ModuleUnknown => m(
            StatusCode::BAD_REQUEST,
            "Unknown wallet module",
            "The account request's module is not one this service transmitted (its manifest is not this service's, or not for the version named).",
        ),
        C::ModuleSuperseded => m(
            StatusCode::FORBIDDEN,
            "Wallet module superseded",
            "The installed wallet module is older than the one the service transmits; install the current one (GET /v1/wallet-module).",
        ),
        C::AccountExists => m(
            StatusCode::CONFLICT,
            "Wallet account exists",
            "The wallet user has an account that is not expired.",
        ),
        C::AccountNotPending => m(
            StatusCode::CONFLICT,
            "Wallet account not pending activation",
            "The account is ACTIVE, LOCKED or EXPIRED, not PENDING_ACTIVATION.",
        ),
        C::AccountExpired => m(
            StatusCode::GONE,
            "Wallet account expired",
            "The pending account was not activated in time.",
        ),
        C::AccountConflict => m(
            StatusCode::CONFLICT,
            "Concurrent wallet account change",
            "A concurrent request changed the account; retry.",
        ),
        C::IllegalTransition => m(
            StatusCode::CONFLICT,
            "Illegal state transition",
            "The state machine does not allow this event in the current state.",
        ),
        C::KbaOptedOut => m(
            StatusCode::CONFLICT,
            "Verification opted out",
            "The user opted out of knowledge-based verification; the issuer verifies instead.",
        ),
        C::KbaNoOpenQuestion => m(
            StatusCode::CONFLICT,
            "No question open",
            "An answer arrived with no question open; ask for one first.",
        ),
        C::KbaQuestionMismatch => m(
            StatusCode::CONFLICT,
            "Not the open question",
            "The answer is for another question than the open one.",
        ),
        C::KbaUnknownOption => m(
            StatusCode::BAD_REQUEST,
            "Unknown option",
            "The option id is not one of the question's.",
        ),
        C::KbaUnavailable => m(
            StatusCode::CONFLICT,
            "Not enough questions",
            "Not enough questions can be drawn for this account.",
        ),
        C::KbaSourceError => m(
            StatusCode::BAD_GATEWAY,
            "Question source failed",
            "The issuer's or third party's question source failed or answered out of contract.",
        ),

        C::OutsideOwnDomain => m(
            StatusCode::FORBIDDEN,
            "Outside own domain",
            "An AID outside the service provider's own range.",
        ),
        C::RequestConflict => m(
            StatusCode::CONFLICT,
            "Request id reused",
            "The request id was used before with another body.",
        ),
        C::DomainNotReady => m(
            StatusCode::CONFLICT,
            "Security domain not ready",
            "Personalisation was delegated before the domain exists on the element.",
        ),
        C::HandoverRefused => m(
            StatusCode::BAD_REQUEST,
            "Key handover refused",
            "The key handover package did not open, or is for another domain or request.",
        ),
        C::SessionFinished => m(
            StatusCode::CONFLICT,
            "Session finished",
            "A response arrived after the session finished.",
        ),
        C::SecureChannelError => m(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Secure channel error",
            "The relayed bytes are not a response APDU, or their protection did not verify.",
        ),
        C::ElementRefused => m(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Element refused a step",
            "The element answered a step with a status word the plan does not accept.",
        ),
        C::NoSession => m(
            StatusCode::UNPROCESSABLE_ENTITY,
            "No secure channel",
            "The element refused the secure channel with every key set held for it.",
        ),
        C::AlreadyExists => m(
            StatusCode::CONFLICT,
            "Already registered",
            "The element or service provider id is registered already.",
        ),
        C::UnknownElement => m(
            StatusCode::NOT_FOUND,
            "Unknown element",
            "The secure element is not registered at this carrier.",
        ),
        C::WrongTsm => m(
            StatusCode::CONFLICT,
            "Session of another TSM",
            "The request is not served by the TSM named in the session request.",
        ),
        C::NothingToDo => m(
            StatusCode::CONFLICT,
            "Nothing to do",
            "The request or job has no step left to run.",
        ),
        C::NotReady => m(
            StatusCode::CONFLICT,
            "Not ready",
            "The job's earlier step is not done yet; retry later.",
        ),
        C::RequestBusy => m(
            StatusCode::CONFLICT,
            "Request busy",
            "Another session is working on this request.",
        ),
        C::RequestFailed => m(
            StatusCode::CONFLICT,
            "Request failed",
            "The request failed for good after its allowed sessions.",
        ),
        C::SessionGone => m(
            StatusCode::NOT_FOUND,
            "Session gone",
            "The session is not held by this instance (ended, or lost with a restart); open a new one.",
        ),
        C::CredentialUnreadable => m(
            StatusCode::BAD_REQUEST,
            "Credential unreadable",
            "The credential JWE does not open under this TSM's key.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_status_of_its_kind_and_its_own_title() {
        let mut titles = std::collections::BTreeMap::new();
        for &code in Code::ALL {
            let m = meaning(code);
            let status = m.status.as_u16();
            assert!((400..600).contains(&status), "{code}: {status}");
            if code != Code::InternalError {
                assert_ne!(status, 500, "{code}: only internal_error is a bare 500");
                assert_ne!(m.title, "Internal error", "{code}");
            }
            assert!(!m.description.is_empty(), "{code}");
            if let Some(other) = titles.insert(m.title, code) {
                panic!("{code} and {other} share the title {:?}", m.title);
            }
        }
    }
}
