//! The token service's public keys.

use axum::Json;
use axum::extract::State;
use provisio_jose::JwkSet;

use crate::AppState;

/// The JWKS of docs/protocol.md §2.2: encryption keys (`use: enc`, `ECDH-ES+A256KW`) and
/// signing keys (`use: sig`, `ES256`), each with its `kid`.
#[utoipa::path(get, path = "/v1/keys/jwks.json", tag = "keys",
    responses((status = 200, description = "JWK Set (RFC 7517)", body = Object)))]
pub(crate) async fn jwks(State(state): State<AppState>) -> Json<JwkSet> {
    Json(state.keys.jwks())
}
