//! The SEI-TSM's OpenAPI 3.1 document, served at its `/openapi.json`.

use utoipa::OpenApi;

use super::routes;
use crate::error::Problem;
use crate::openapi::{BearerAuth, CommonAnswers, ProblemCodes, ProblemMediaType};

/// The carrier TSM's document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Provisio SEI-TSM", description = "The carrier's trusted service manager (US 8,060,449): secure elements and their issuer security domains, service requests from issuers' SP-TSMs, the OTA client's wake-up messages and relayed SCP03 admin sessions. Errors are RFC 9457 problem documents with a stable `code`."),
    paths(crate::routes::health::alive, openapi, routes::add_element, routes::add_provider, routes::create_request, routes::request_status, routes::messages, routes::ack, routes::open_session, routes::session_step),
    components(schemas(
        Problem,
        provisio_tsm::wire::HexKeys,
        provisio_tsm::wire::AddElement,
        provisio_tsm::wire::ElementAdded,
        provisio_tsm::wire::AddProvider,
        provisio_tsm::wire::ProviderAdded,
        provisio_tsm::ServiceRequest,
        provisio_tsm::RequestKind,
        provisio_tsm::RequestState,
        provisio_tsm::wire::RequestStatus,
        provisio_tsm::wire::WakeUp,
        provisio_tsm::wire::Message,
        provisio_tsm::wire::Messages,
        provisio_tsm::wire::OpenSession,
        provisio_tsm::wire::SessionStep,
        provisio_tsm::wire::Relayed,
    )),
    modifiers(&BearerAuth, &ProblemCodes, &CommonAnswers, &ProblemMediaType)
)]
pub struct SeiApiDoc;

/// This role's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub(crate) async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(SeiApiDoc::openapi())
}
