//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::Problem;
use crate::routes;

/// The document served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Provisio", description = "Puts payment credentials onto phones: push provisioning (US 10,243,958) with risk decisions, step-up by one-time code and installation scripts (US 10,140,615). Errors are RFC 9457 problem documents with a stable `code`."),
    paths(
        routes::health::healthz,
        routes::health::metrics,
        routes::health::openapi,
        routes::keys::jwks,
        routes::admin::create_issuer,
        routes::admin::create_token_requestor,
        routes::risk_lists::add_risk_list_entry,
        routes::push::push_provisioning,
        routes::step_up::send_otp,
        routes::step_up::verify_otp,
        routes::scripts::report,
    ),
    components(schemas(
        Problem,
        routes::admin::CreateIssuer,
        routes::admin::CreatedIssuer,
        routes::admin::CreateTokenRequestor,
        routes::admin::CreatedTokenRequestor,
        routes::admin::WalletAccounts,
        provisio_tsp::wire::PushProvisioningRequest,
        provisio_tsp::wire::PushProvisioningResponse,
        routes::risk_lists::RiskListEntry,
        provisio_tsp::wire::OtpSendRequest,
        provisio_tsp::wire::OtpSent,
        provisio_tsp::wire::OtpVerifyRequest,
        provisio_tsp::wire::StepUpPassed,
        provisio_tsp::wire::ScriptReportRequest,
        provisio_tsp::wire::ScriptReportResponse,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "api_key",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("Authorization: Bearer <api_key>"))
                        .build(),
                ),
            );
        }
    }
}
