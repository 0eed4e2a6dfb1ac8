//! The SP-TSM's OpenAPI 3.1 document, served at its `/openapi.json`.

use utoipa::OpenApi;

use super::routes;
use crate::error::Problem;
use crate::openapi::{BearerAuth, CommonAnswers, ProblemCodes, ProblemMediaType};

/// The issuer TSM's document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Provisio SP-TSM", description = "An issuer's trusted service manager (US 8,060,449): provisioning jobs from the token service, the carrier TSM's domain and key handover, and the SCP03 sessions the phone's OTA client opens straight to it by delegation. Errors are RFC 9457 problem documents with a stable `code`."),
    paths(crate::routes::health::alive, openapi, routes::handover_key, routes::add_caller, routes::create_job, routes::job_status, routes::open_session, routes::session_step),
    components(schemas(
        Problem,
        provisio_tsm::wire::AddCaller,
        provisio_tsm::wire::CallerAdded,
        provisio_tsm::wire::SpJob,
        provisio_tsm::wire::JobStatus,
        provisio_tsm::JobState,
        provisio_tsm::wire::SessionStep,
        provisio_tsm::wire::Relayed,
    )),
    modifiers(&BearerAuth, &ProblemCodes, &CommonAnswers, &ProblemMediaType)
)]
pub struct SpApiDoc;

/// This role's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub(crate) async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(SpApiDoc::openapi())
}
