//! JSON bodies of the account endpoints, and of the HTTP protocol the service speaks to an
//! issuer's or a third party's question source.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{AccountState, AnswerOption, Fact, Question, SecurityLevel};

/// `GET /v1/wallet-module`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WalletModule {
    /// The manifest, a compact JWS (ES256, `typ` `provisio-wallet-module+jws`) signed with a
    /// signing key of the JWKS.
    pub manifest: String,
}

/// `POST /v1/wallet-accounts`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWalletAccount {
    /// The wallet's id for its user (as in push provisioning).
    pub wallet_user_id: String,
    /// The card issuer whose customer the user is; it chooses the question source.
    pub issuer_id: String,
    /// The phone.
    pub device: AccountDevice,
    /// The user.
    pub user: AccountUser,
    /// The pre-installed wallet module the request comes from (US 10,699,267).
    pub module: InstalledModule,
}

/// The wallet module a wallet installed from `GET /v1/wallet-module`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstalledModule {
    /// Its version.
    pub module_version: String,
    /// The manifest it was installed from, as transmitted (a compact JWS): the reference the
    /// service checks is its own.
    pub manifest: String,
}

/// The phone an account lives on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountDevice {
    /// The device id push provisioning will name.
    pub device_id: String,
    /// The model, e.g. `Pixel 9`.
    pub model: String,
    /// The operating system and version, e.g. `Android 16`.
    pub os: String,
    /// The secure element id, for phones with one.
    #[serde(default)]
    pub secure_element_id: Option<String>,
    /// The device's binding key, an EC P-256 public JWK.
    #[schema(value_type = Object)]
    pub binding_jwk: provisio_jose::Jwk,
    /// The wallet's device risk score, 0 (clean) to 99, if it has one.
    #[serde(default)]
    pub risk_score: Option<u8>,
}

/// Who the user says they are. Kept sealed at rest; `Debug` shows none of it.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountUser {
    /// Full name.
    pub name: String,
    /// Phone number, E.164.
    pub phone: String,
    /// E-mail address.
    pub email: String,
    /// The issuer's reference for the customer.
    pub customer_ref: String,
}

/// An account as the wallet sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WalletAccountView {
    /// Id.
    pub account_id: String,
    /// The wallet's user.
    pub wallet_user_id: String,
    /// The issuer.
    pub issuer_id: String,
    /// The device it lives on.
    pub device_id: String,
    /// Where it stands.
    pub state: AccountState,
    /// Why it is in that state (the last transition's reason, e.g. `kba_wrong_answers`).
    pub state_reason: String,
    /// The level the service determined; it sets the questions per attempt.
    pub security_level: SecurityLevel,
    /// Verification progress.
    pub kba: KbaView,
    /// Unix seconds.
    pub created_at: i64,
    /// When a pending account expires.
    pub expires_at: i64,
    /// When it became active (the user is then authenticated on this device).
    pub activated_at: Option<i64>,
}

/// Verification progress.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KbaView {
    /// `NOT_STARTED`, `IN_PROGRESS`, `PASSED`, `FAILED` or `OPTED_OUT`.
    pub status: String,
    /// Where questions come from: `BANK`, `ISSUER` or `THIRD_PARTY`.
    pub source: SourceKind,
    /// Questions per attempt.
    pub questions_per_attempt: u32,
    /// Failed attempts.
    pub attempts_used: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Seconds to answer each question.
    pub question_time_limit_s: i64,
}

/// The result of asking for a question or answering one. Never says which answer was wrong.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KbaStep {
    /// `QUESTION` (answer `question`), `ATTEMPT_FAILED` (ask again for a new attempt),
    /// `LOCKED` or `ACTIVATED`.
    pub result: KbaResult,
    /// For a failure: `wrong_answers`/`timeout`, or `kba_wrong_answers`/`kba_timeout` when
    /// it locked the account.
    pub reason: Option<String>,
    /// The account's state after the step.
    pub state: AccountState,
    /// Failed attempts so far.
    pub attempts_used: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The question to answer, when `result` is `QUESTION`.
    pub question: Option<PresentedQuestion>,
}

/// What a step led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KbaResult {
    /// A question to answer.
    Question,
    /// The attempt failed; another is allowed.
    AttemptFailed,
    /// The account is locked.
    Locked,
    /// The account is active.
    Activated,
}

/// A question on screen.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PresentedQuestion {
    /// Attempt number, from 1.
    pub attempt: u32,
    /// Position in the attempt, from 1.
    pub position: u32,
    /// Questions in the attempt.
    pub count: u32,
    /// The answer must arrive by then, or the attempt fails.
    pub expires_at: i64,
    /// Its id.
    pub id: String,
    /// The question.
    pub text: String,
    /// The options.
    pub options: Vec<AnswerOption>,
}

/// `POST /v1/wallet-accounts/{account_id}/kba/answer`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KbaAnswer {
    /// The open question.
    pub question_id: String,
    /// The chosen option.
    pub option_id: String,
}

/// The answer to an opt-out.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OptedOut {
    /// The account's state (still `PENDING_ACTIVATION`).
    pub state: AccountState,
    /// `OPTED_OUT`.
    pub kba_status: String,
    /// Methods that remain: `ISSUER_VERIFICATION` (the user contacts the card issuer, which
    /// verifies them and activates the account).
    pub alternatives: Vec<String>,
}

/// `POST /v1/issuer/wallet-accounts/{account_id}/verification`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuerVerification {
    /// How the issuer verified the user.
    pub method: VerificationMethod,
}

/// Ways an issuer verifies a user outside the wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerificationMethod {
    /// By phone with the issuer's call centre.
    CallCenter,
    /// In a branch.
    Branch,
    /// In the issuer's own app, after its login.
    IssuerApp,
}

/// `POST /v1/issuer/enrolments`: what the issuer knows about a customer, for the question
/// bank and the data-mismatch rules.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrolment {
    /// The issuer's reference for the customer.
    pub customer_ref: String,
    /// Name on file.
    pub name: String,
    /// Phone on file.
    pub phone: String,
    /// E-mail on file.
    pub email: String,
    /// When the customer joined (Unix seconds).
    #[serde(default)]
    pub customer_since: Option<i64>,
    /// Facts to build questions from; a new load replaces the customer's questions.
    pub facts: Vec<Fact>,
}

/// The answer to an enrolment load.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnrolmentLoaded {
    /// The customer.
    pub customer_ref: String,
    /// Questions now in the bank for the customer.
    pub questions: u32,
}

/// Where an issuer's questions come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SourceKind {
    /// The service's own bank, from enrolments the issuer loaded (the default).
    Bank,
    /// The issuer's own system over HTTP, by customer reference.
    Issuer,
    /// A third-party identity provider over HTTP, by name, phone and e-mail.
    ThirdParty,
}

/// `PUT /v1/admin/issuers/{issuer_id}/kba-source`.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KbaSourceConfig {
    /// The source.
    pub kind: SourceKind,
    /// Base URL of an HTTP source (`{url}/questions`, `{url}/answers`).
    #[serde(default)]
    pub url: Option<String>,
    /// Bearer credential the service presents to an HTTP source; stored sealed.
    #[serde(default)]
    pub credential: Option<String>,
}

/// `POST {url}/questions` to an HTTP source.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct SourceQuestionsRequest {
    /// The account asking.
    pub account_id: String,
    /// The issuer.
    pub issuer_id: String,
    /// How many questions.
    pub count: u32,
    /// Ids already asked of this account: never send them again.
    pub exclude: Vec<String>,
    /// Who is being verified.
    pub subject: Subject,
}

/// The user as a source sees them: the issuer gets its customer reference; a third party
/// gets name, phone and e-mail.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Subject {
    /// For the issuer's source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_ref: Option<String>,
    /// For a third party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For a third party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// For a third party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A source's questions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SourceQuestions {
    /// Exactly `count` questions, none of them excluded.
    pub questions: Vec<Question>,
}

/// `POST {url}/answers` to an HTTP source: one answer to check.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct SourceAnswerRequest {
    /// The account.
    pub account_id: String,
    /// The question.
    pub question_id: String,
    /// The chosen option.
    pub option_id: String,
    /// Who is being verified.
    pub subject: Subject,
}

/// A source's verdict on one answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SourceVerdict {
    /// Whether the option is the right one.
    pub correct: bool,
}

macro_rules! redacted_debug {
    ($($t:ty),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($t), " { <redacted> }"))
            }
        }
    )*};
}

redacted_debug!(
    AccountUser,
    Enrolment,
    KbaSourceConfig,
    SourceQuestionsRequest,
    Subject,
    SourceAnswerRequest
);

impl SourceKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bank => "BANK",
            Self::Issuer => "ISSUER",
            Self::ThirdParty => "THIRD_PARTY",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Bank, Self::Issuer, Self::ThirdParty]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

impl VerificationMethod {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CallCenter => "CALL_CENTER",
            Self::Branch => "BRANCH",
            Self::IssuerApp => "ISSUER_APP",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_stays_out_of_debug() {
        let user = AccountUser {
            name: "Ada Lovelace".into(),
            phone: "+447700900123".into(),
            email: "ada@example.org".into(),
            customer_ref: "cust-1".into(),
        };
        let shown = format!("{user:?}");
        for secret in ["Ada", "7700", "example", "cust-1"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
