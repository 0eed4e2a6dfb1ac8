//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use provisio_types::Code;
use utoipa::openapi::RefOr;
use utoipa::openapi::content::Content;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{ObjectBuilder, Ref, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{Problem, meaning};
use crate::routes;

/// The document served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Provisio", description = "Puts payment credentials onto phones: hosted wallet account activation with knowledge-based verification (US 10,699,267; the question-source protocol is the Source* schemas), push provisioning (US 10,243,958) with risk decisions, step-up by one-time code and installation scripts (US 10,140,615), the token's life, and payment: de-tokenisation with cryptogram validation for payment networks. Errors are RFC 9457 problem documents with a stable `code`."),
    paths(
        routes::health::healthz,
        routes::health::metrics,
        routes::health::openapi,
        routes::keys::jwks,
        routes::admin::create_issuer,
        routes::admin::create_token_requestor,
        routes::issuer_settings::set_bin_ranges,
        routes::issuer_settings::set_decisioning,
        routes::issuer_settings::set_push_step_up,
        routes::payments::create_network,
        routes::risk_lists::add_risk_list_entry,
        routes::kba_sources::set_kba_source,
        routes::sp_tsms::set_sp_tsm,
        routes::scripts::get_installation,
        routes::scripts::tsm_report,
        routes::wallet_module::wallet_module,
        routes::accounts::create_account,
        routes::accounts::get_account,
        routes::accounts::question,
        routes::accounts::answer,
        routes::accounts::opt_out,
        routes::issuer_accounts::load_enrolment,
        routes::issuer_accounts::verify,
        routes::push::push_provisioning,
        routes::provisionings::wallet_provisioning,
        routes::step_up::send_otp,
        routes::step_up::verify_otp,
        routes::step_up::issuer_app,
        routes::step_up::call_center_activate,
        routes::step_up::call_center_collect,
        routes::scripts::report,
        routes::tokens::get_token,
        routes::tokens::search,
        routes::tokens::suspend,
        routes::tokens::resume,
        routes::tokens::delete,
        routes::tokens::suspend_card,
        routes::tokens::resume_card,
        routes::tokens::delete_card,
        routes::tokens::reissue_card,
        routes::token_admin::set_issuer_notifications,
        routes::token_admin::set_token_requestor_notifications,
        routes::token_admin::dead_events,
        routes::token_admin::redrive,
        routes::payments::authorize_payment,
    ),
    components(schemas(
        Problem,
        crate::doc_schemas::PlainName,
        crate::doc_schemas::BinRange,
        provisio_tsp::wire::EcPublicJwk,
        provisio_tsp::wire::EcPublicJwkWithKid,
        routes::admin::CreateIssuer,
        routes::admin::CreatedIssuer,
        routes::admin::CreateTokenRequestor,
        routes::admin::CreatedTokenRequestor,
        routes::admin::WalletAccounts,
        routes::issuer_settings::BinRanges,
        routes::issuer_settings::DecisioningSettings,
        routes::issuer_settings::PushStepUp,
        provisio_tsp::wire::PushProvisioningRequest,
        provisio_tsp::wire::PushProvisioningResponse,
        provisio_tsp::wallet_wire::WalletProvisioningRequest,
        routes::risk_lists::RiskListEntry,
        provisio_tsp::wire::OtpSendRequest,
        provisio_tsp::wire::OtpSent,
        provisio_tsp::wire::OtpVerifyRequest,
        provisio_tsp::wire::IssuerAppActivationRequest,
        provisio_tsp::wire::CallCenterActivationRequest,
        provisio_tsp::wire::CallCenterActivated,
        provisio_tsp::wire::CallCenterCollectRequest,
        provisio_tsp::wire::StepUpPassed,
        provisio_tsp::wire::ScriptReportRequest,
        provisio_tsp::wire::ScriptReportResponse,
        provisio_tsp::wire::SpTsmConfig,
        provisio_tsp::wire::Installation,
        provisio_tsp::wire::InstallationState,
        provisio_tsp::ScriptTarget,
        provisio_tsm::wire::JobStatus,
        provisio_tsm::JobState,
        provisio_accounts::wire::WalletModule,
        provisio_accounts::wire::CreateWalletAccount,
        provisio_accounts::wire::AccountDevice,
        provisio_accounts::wire::AccountUser,
        provisio_accounts::wire::WalletAccountView,
        provisio_accounts::wire::KbaView,
        provisio_accounts::wire::KbaStep,
        provisio_accounts::wire::KbaResult,
        provisio_accounts::wire::PresentedQuestion,
        provisio_accounts::wire::KbaAnswer,
        provisio_accounts::wire::OptedOut,
        provisio_accounts::wire::IssuerVerification,
        provisio_accounts::wire::VerificationMethod,
        provisio_accounts::wire::Enrolment,
        provisio_accounts::wire::EnrolmentLoaded,
        provisio_accounts::wire::SourceKind,
        provisio_accounts::wire::KbaSourceConfig,
        provisio_accounts::wire::SourceQuestionsRequest,
        provisio_accounts::wire::SourceQuestions,
        provisio_accounts::wire::SourceAnswerRequest,
        provisio_accounts::wire::SourceVerdict,
        provisio_accounts::wire::Subject,
        provisio_accounts::Fact,
        provisio_accounts::Question,
        provisio_accounts::AnswerOption,
        provisio_accounts::AccountState,
        provisio_accounts::SecurityLevel,
        provisio_tsp::token_wire::TokenAnswer,
        provisio_tsp::token_wire::HistoryItem,
        provisio_tsp::token_wire::TokenList,
        provisio_tsp::token_wire::ChangeRequest,
        provisio_tsp::token_wire::SearchRequest,
        provisio_tsp::token_wire::CardChangeRequest,
        provisio_tsp::token_wire::ReissueRequest,
        provisio_tsp::token_wire::NotificationSettings,
        provisio_tsp::token_wire::DeadEventAnswer,
        provisio_tsp::token_wire::DeadEventList,
        routes::payments::CreateNetwork,
        routes::payments::CreatedNetwork,
        provisio_tsp::payment_wire::AuthorizationRequest,
        provisio_tsp::payment_wire::AuthorizationAnswer,
        provisio_tsp::payment_wire::AuthorizationDecision,
        provisio_tsp::payment_wire::DeclineReason,
        provisio_tsp::payment_wire::Channel,
        provisio_tsp::payment_wire::TokenUsage,
    )),
    modifiers(&BearerAuth, &ProblemCodes, &CommonAnswers, &ProblemMediaType)
)]
pub struct ApiDoc;

pub(crate) struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "api_key",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "Authorization: Bearer <api_key>. An operation's security requirement lists, as OpenAPI 3.1 allows for schemes other than OAuth, the roles whose keys it takes (docs/protocol.md §2.1); a key of another role is 403 `forbidden` on the token service, 401 on the TSM roles' operator endpoints.",
                        ))
                        .build(),
                ),
            );
        }
    }
}

/// The answers every operation can give besides its own (docs/protocol.md §4.1), added where
/// an operation's annotation does not list them: 408 `request_timeout`, 500 `internal_error`
/// and 503 `unavailable` anywhere; 401 `unauthorized` and 429
/// `too_many_failed_authentications` where a key is taken (§1.2); 400 `malformed_request`,
/// 413 `payload_too_large` and 415 `unsupported_media_type` where a body is (§1.1). A status an
/// annotation lists already keeps its description, and gains the common code's name.
pub(crate) struct CommonAnswers;

impl CommonAnswers {
    const ANYWHERE: [(&str, &str); 3] = [
        (
            "408",
            "request_timeout: the request took longer than the server allows",
        ),
        (
            "500",
            "internal_error: a fault on the service's side (logged)",
        ),
        (
            "503",
            "unavailable: the store cannot be reached; retry later",
        ),
    ];
    const KEYED: [(&str, &str); 2] = [
        (
            "401",
            "unauthorized: no key, or a key this role does not know",
        ),
        (
            "429",
            "too_many_failed_authentications: this peer sent too many unknown keys; see Retry-After",
        ),
    ];
    const WITH_BODY: [(&str, &str); 3] = [
        (
            "400",
            "malformed_request: the body is not the documented JSON",
        ),
        ("413", "payload_too_large: a body above 2 MiB"),
        (
            "415",
            "unsupported_media_type: the body is not sent as application/json",
        ),
    ];

    fn add(operation: &mut Operation, answers: &[(&str, &str)]) {
        for &(status, description) in answers {
            let code = description.split(':').next().unwrap_or(description);
            match operation.responses.responses.get_mut(status) {
                Some(RefOr::T(listed)) => {
                    if !listed.description.contains(code) {
                        listed.description = format!("{}; {description}", listed.description);
                    }
                }
                Some(RefOr::Ref(_)) => {}
                None => {
                    let problem = Content::new(Some(Ref::from_schema_name("Problem")));
                    let mut response = Response::new(description);
                    response
                        .content
                        .insert("application/problem+json".into(), problem);
                    operation
                        .responses
                        .responses
                        .insert(status.to_owned(), response.into());
                }
            }
        }
    }
}

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for operation in operations_mut(openapi) {
            Self::add(operation, &Self::ANYWHERE);
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                Self::add(operation, &Self::KEYED);
            }
            if operation.request_body.is_some() {
                Self::add(operation, &Self::WITH_BODY);
            }
        }
    }
}

/// Every operation of the document.
fn operations_mut(openapi: &mut utoipa::openapi::OpenApi) -> impl Iterator<Item = &mut Operation> {
    openapi.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
    })
}

/// Error answers are `application/problem+json` (RFC 9457), as the server sends them: every
/// 4xx and 5xx response's content is declared under that media type.
pub(crate) struct ProblemMediaType;

impl Modify for ProblemMediaType {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for operation in operations_mut(openapi) {
            for (status, response) in &mut operation.responses.responses {
                let RefOr::T(response) = response else {
                    continue;
                };
                if !status.starts_with('4') && !status.starts_with('5') {
                    continue;
                }
                if let Some(content) = response.content.shift_remove("application/json") {
                    response
                        .content
                        .insert("application/problem+json".into(), content);
                }
            }
        }
    }
}

/// Lists every stable code (docs/protocol.md §4) in the problem schema: `code` is an enum of
/// them, and its description gives each one's status and meaning.
pub(crate) struct ProblemCodes;

impl Modify for ProblemCodes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let Some(RefOr::T(Schema::Object(problem))) = components.schemas.get_mut("Problem") else {
            return;
        };
        let table: String = Code::ALL
            .iter()
            .map(|&code| {
                let m = meaning(code);
                format!("- `{code}` ({}): {}\n", m.status.as_u16(), m.description)
            })
            .collect();
        let code = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Code::ALL.iter().map(|c| c.as_str())))
            .description(Some(format!(
                "Stable machine-readable code (docs/protocol.md §4):\n\n{table}"
            )));
        problem.properties.insert("code".into(), code.into());
    }
}
