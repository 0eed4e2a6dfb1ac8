//! The reference server of `provisio bench push --reference`: the least any server can do for
//! a push provisioning over HTTP, so the real one can be read against it on the same machine
//! with the same load generator.
//!
//! It answers the bench's calls only. A push is parsed, its request JWE opened, the issuer's
//! JWS verified and the access data encrypted to the device's binding key (the crypto floor,
//! `floor.rs`), and an approval of the real answer's shape goes back. It has no store, no
//! risk policy, no minting, no authentication and no logging: it is not a token service, and
//! nothing is kept. Its CPU per request over the floor is what HTTP, JSON and the runtime cost
//! on this machine; its throughput is the most the machine gives with the load generator
//! beside it.

use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use provisio_crypto::{AwsLcProvider, CryptoProvider, EcKeyPair, EcPublicKey};
use provisio_jose::{EncryptOptions, Jwk, JwkSet, KeyManagement, KeyUse};
use provisio_tsp::wire::{
    Decision, PushProvisioningRequest, PushProvisioningResponse, RiskInfo, TokenInfo,
};

/// `provisio bench reference-server` options (started by `bench push --reference`).
#[derive(Debug, Args)]
pub(crate) struct ReferenceArgs {
    /// Address to listen on (the bench uses a free loopback port).
    #[arg(long)]
    listen: std::net::SocketAddr,
}

struct Reference {
    crypto: AwsLcProvider,
    key: EcKeyPair,
    jwks: JwkSet,
    /// The registered issuer's signing key (the bench registers one).
    issuer: RwLock<Option<EcPublicKey>>,
}

type Shared = State<Arc<Reference>>;

pub(super) async fn serve(args: ReferenceArgs) -> anyhow::Result<ExitCode> {
    let crypto = AwsLcProvider::new();
    let key = crypto.generate_ec_key()?;
    let mut enc = Jwk::from_public_key(key.public_key());
    enc.kid = Some("reference-enc".into());
    enc.key_use = Some(KeyUse::Enc);
    enc.alg = Some("ECDH-ES+A256KW".into());
    let state = Arc::new(Reference {
        crypto,
        key,
        jwks: JwkSet { keys: vec![enc] },
        issuer: RwLock::new(None),
    });
    let app = Router::new()
        .route("/v1/keys/jwks.json", get(jwks))
        .route("/v1/admin/issuers", post(register_issuer))
        .route("/v1/admin/token-requestors", post(registered))
        .route("/v1/push-provisioning", post(push))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    axum::serve(listener, app).await?;
    Ok(ExitCode::SUCCESS)
}

async fn jwks(State(r): Shared) -> Json<JwkSet> {
    Json(r.jwks.clone())
}

#[derive(serde::Deserialize)]
struct NewIssuer {
    signing_jwk: Jwk,
}

async fn register_issuer(
    State(r): Shared,
    Json(body): Json<NewIssuer>,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let key = body
        .signing_jwk
        .public_key()
        .map_err(|_| StatusCode::BAD_REQUEST)?;
    *r.issuer
        .write()
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)? = Some(key);
    Ok(registered().await)
}

async fn registered() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "api_key": "reference" }))
}

fn bad<E>(_: E) -> StatusCode {
    StatusCode::BAD_REQUEST
}

/// The floor's work on the real request, and an approval of the real answer's shape.
async fn push(
    State(r): Shared,
    Json(req): Json<PushProvisioningRequest>,
) -> Result<Json<PushProvisioningResponse>, StatusCode> {
    let issuer = r
        .issuer
        .read()
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .clone()
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let opened = provisio_jose::decrypt(
        &r.crypto,
        &req.encrypted_payload,
        &[KeyManagement::EcdhEsA256Kw],
        |_| Some(&r.key),
    )
    .map_err(bad)?;
    let jws = std::str::from_utf8(opened.plaintext.expose()).map_err(bad)?;
    provisio_jose::verify_with_key(&r.crypto, jws, &issuer).map_err(bad)?;
    let device = req.device.binding_jwk.public_key().map_err(bad)?;
    // About the size of the real access data: token PAN, expiry, reference, key, algorithm.
    let mut access = [0u8; 180];
    r.crypto
        .fill_random(&mut access)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let options = EncryptOptions {
        alg: KeyManagement::EcdhEs,
        kid: None,
        cty: None,
    };
    let access_data = provisio_jose::encrypt(&r.crypto, &device, &options, &access).map_err(bad)?;
    Ok(Json(PushProvisioningResponse {
        provisioning_id: req.session_id,
        decision: Decision::Approved,
        risk: RiskInfo {
            wallet_level: None,
            tsp_level: 1,
            final_level: 1,
            non_override: false,
            merge_rule: "reference".into(),
            policy_version: "reference".into(),
            reasons: Vec::new(),
        },
        token: Some(TokenInfo {
            token_ref_id: "reference".into(),
            last4: "0000".into(),
            exp_month: 12,
            exp_year: 2031,
            status: "ACTIVE".into(),
            account_ref: "ar_reference".into(),
        }),
        access_data: Some(access_data),
        step_up: None,
        script: None,
    }))
}
