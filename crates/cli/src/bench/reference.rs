//! The reference server of `provisio bench push --reference` and `bench authorize
//! --reference`: the least any server can do for a push provisioning or an authorisation over
//! HTTP, so the real one can be read against it on the same machine with the same load
//! generator.
//!
//! It answers the bench's calls only. A push is parsed, its request JWE opened, the issuer's
//! JWS verified and the access data encrypted to the device's binding key (the crypto floor,
//! `floor.rs`), and an approval of the real answer's shape goes back. It has no store, no
//! risk policy, no minting, no authentication and no logging: it is not a token service, and
//! nothing is kept. Its CPU per request over the floor is what HTTP, JSON and the runtime cost
//! on this machine; its throughput is the most the machine gives with the load generator
//! beside it.
//!
//! An authorisation is parsed, its token PAN hashed (HMAC-SHA-256), its cryptogram checked
//! under [`REFERENCE_CRYPTOGRAM_KEY`] (session key and AES-CMAC) and a sealed PAN opened (the
//! floor of `authorize.rs`); an approval of the real answer's shape goes back.

use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use provisio_crypto::{AesKey, AwsLcProvider, CryptoProvider, EcKeyPair, EcPublicKey, SecretBytes};
use provisio_emv::{Atc, Transaction};
use provisio_jose::{EncryptOptions, Jwk, JwkSet, KeyManagement, KeyUse};
use provisio_tsp::payment_wire::{
    AuthorizationAnswer, AuthorizationDecision, AuthorizationRequest,
};
use provisio_tsp::wire::{
    Decision, PushProvisioningRequest, PushProvisioningResponse, RiskInfo, TokenInfo,
};
use provisio_tsp::{Sealed, VaultKeys};

/// `provisio bench reference-server` options (started by `bench push --reference`).
#[derive(Debug, Args)]
pub(crate) struct ReferenceArgs {
    /// Address to listen on (the bench uses a free loopback port).
    #[arg(long)]
    listen: std::net::SocketAddr,
}

/// The cryptogram key of every token the reference server pretends to hold.
pub(super) const REFERENCE_CRYPTOGRAM_KEY: [u8; 16] = [7; 16];

struct Reference {
    crypto: AwsLcProvider,
    vault: VaultKeys,
    sealed_pan: Sealed,
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
    let mut kek = vec![0u8; 32];
    crypto.fill_random(&mut kek)?;
    let vault = VaultKeys::new(
        "reference".into(),
        SecretBytes::new(kek),
        SecretBytes::new(vec![9; 32]),
    )?;
    let sealed_pan = vault.seal(&crypto, b"4000123456789017", b"token:reference:pan")?;
    let state = Arc::new(Reference {
        vault,
        sealed_pan,
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
        .route("/v1/network/authorizations", post(authorize))
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
            issuer: None,
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

/// The authorisation floor's work on the real request, and an approval of the real answer's
/// shape.
async fn authorize(
    State(r): Shared,
    Json(req): Json<AuthorizationRequest>,
) -> Result<Json<AuthorizationAnswer>, StatusCode> {
    let hash = r.vault.lookup_hash(&r.crypto, "token_pan", &req.token_pan);
    let tx = Transaction::parse(
        req.amount_minor,
        &req.currency,
        &req.country,
        &req.transaction_date,
        &req.unpredictable_number,
    )
    .map_err(bad)?;
    let atc = u16::try_from(req.atc)
        .ok()
        .and_then(Atc::new)
        .ok_or(StatusCode::BAD_REQUEST)?;
    let presented = hex::decode(&req.cryptogram).map_err(bad)?;
    let key = AesKey::from_bytes(&REFERENCE_CRYPTOGRAM_KEY).map_err(bad)?;
    if !provisio_emv::verify(&key, atc, &tx, &presented).map_err(bad)? {
        return Err(StatusCode::BAD_REQUEST);
    }
    let pan = r
        .vault
        .open(&r.crypto, &r.sealed_pan, b"token:reference:pan")
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    std::hint::black_box(hash);
    Ok(Json(AuthorizationAnswer {
        authorization_id: "au_reference".into(),
        decision: AuthorizationDecision::Approved,
        reason: None,
        token_ref_id: Some("tr_reference".into()),
        pan: Some(String::from_utf8_lossy(pan.expose()).into_owned()),
        exp_month: Some(12),
        exp_year: Some(2030),
        account_ref: Some("ar_reference".into()),
    }))
}
