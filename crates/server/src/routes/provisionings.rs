//! `POST /v1/provisionings` (docs/protocol.md §17.2): a card typed or scanned in the wallet.
//! Authenticate, open the card, find its issuer by range and load the facts, ask the issuer's
//! decisioning when it has one, run the core once, commit once, answer.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use provisio_store::Role;
use provisio_tsp::wallet_wire::WalletProvisioningRequest;
use provisio_tsp::wire::PushProvisioningResponse;
use provisio_tsp::{PushContext, PushError, WalletRequest};

use super::push::{CardRequest, card_facts_query, commit_minted, push_facts};
use crate::auth::require;
use crate::error::Problem;
use crate::idempotency;
use crate::{ApiError, AppState};

const PATH: &str = "/v1/provisionings";

/// Provisions a card the user entered in the wallet: no issuer signature, so the service
/// asks the issuer and weighs the risk (US 10,140,615).
#[utoipa::path(post, path = "/v1/provisionings", tag = "wallet-initiated provisioning",
    request_body = WalletProvisioningRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same body")),
    responses(
        (status = 200, body = PushProvisioningResponse, description = "Processed: approved, step-up required, or declined"),
        (status = 400, body = Problem, description = "malformed_request, payload_undecryptable, stale_timestamp, invalid_account, unknown_issuer (no issuer's card range holds the PAN)"),
        (status = 401, body = Problem, description = "unauthorized"),
        (status = 403, body = Problem, description = "forbidden: not a token requestor key; account_not_active, device_key_mismatch: as for a push"),
        (status = 409, body = Problem, description = "replayed_request: the jti was used before by this token requestor; already_in_wallet"),
        (status = 422, body = Problem, description = "idempotency_conflict"),
    ),
    security(("api_key" = ["token_requestor"])))]
pub(crate) async fn wallet_provisioning(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = require(&state, &headers, Role::TokenRequestor).await?;
    let (idem, replay) = idempotency::begin(&state, &headers, &caller.id, PATH, &body).await?;
    if let Some(replayed) = replay {
        return Ok(replayed);
    }
    let crypto = state.crypto.as_ref();
    let now = state.clock.now();
    let card = WalletRequest::parse(&body)?.open(
        crypto,
        &state.keys,
        now,
        state.config.freshness_window_s,
    )?;
    let issuer = state
        .store
        .issuer_of_pan(card.pan().expose())
        .await?
        .ok_or(PushError::UnknownIssuer)?;
    let req = card.request();
    let query = card_facts_query(
        &state,
        &caller,
        &CardRequest {
            pan: Some(card.pan()),
            issuer_id: Some(&issuer.issuer_id),
            wallet_user_id: req.wallet_user_id.as_str(),
            device_id: req.device_id.as_str(),
            secure_element: req.body.device.secure_element_id.is_some(),
        },
    );
    let loaded = state.store.load_push_facts(&query).await?;
    // Nothing here is signed by the issuer: no signing key to read.
    let facts = push_facts(&state, &caller, loaded, None)?;
    let ctx = PushContext {
        crypto,
        keys: &state.keys,
        config: &state.config,
        caller_trid: &caller.id,
        now,
    };
    let answer = match &issuer.decisioning {
        Some(decisioning) => {
            let tsp = card.assess(&ctx, &issuer.issuer_id, &facts)?;
            Some(
                crate::decisioning::ask(&state, &ctx, &issuer.issuer_id, decisioning, &card, &tsp)
                    .await?,
            )
        }
        None => None,
    };
    commit_minted(&state, idem.as_ref(), query, || {
        card.process(&ctx, &issuer.issuer_id, &facts, answer.as_ref())
    })
    .await
}
